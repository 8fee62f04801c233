"""Write a set of files into a folder in one atomic step: readers see the old set or the new one, whole.

A checkpoint is several files that must match (`config.json` + weights, more with shards or a tokenizer).
`replace_in_folder` builds the new version of the folder in a hidden sibling (the new files, plus hard
links to every other entry, such as tokenizer files), then swaps the two folders with one
`renameat2(RENAME_EXCHANGE)`: at every instant the folder's path names a whole old or a whole new version,
for any reader (transformers too). A new folder is built the same way and renamed into place.

Where a swap is impossible (the folder is a mount point or the working directory, its parent is not
writable, the system has no `renameat2` or the file system refuses it) the files are staged inside the
folder and committed with a record, `.tf_longformer-commit.json`, that lists the renames: once it exists
the save is done, and whoever next reads or saves the folder through this package finishes a save that was
killed half way. During those renames the keystone file (`config.json`) is absent, so a reader meets a
clear error, never an old config beside new weights.

`read_consistently` reads a folder again when a save into it finished during the read.

Example:
    >>> replace_in_folder("ckpt", {"config.json": write_config, "model.safetensors": write_weights})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from converters.atomic import (
    atomic_write_text,
    file_mode,
    finish_file,
    fsync_path,
    is_temporary,
    new_temporary_folder,
    remove_stale_temporaries,
    temporary_name,
)
from converters.errors import checkpoint_error

Writer = Callable[[str], None]
T = TypeVar("T")

COMMIT_RECORD = ".tf_longformer-commit.json"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errors of renameat2 meaning "not here": fall back to the in-place commit
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EBUSY, errno.EPERM}


def text_file(text: str) -> Writer:
    """A writer of `text` (UTF-8), for `replace_in_folder`."""

    def write(path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    return write


def copy_of(source: str) -> Writer:
    """A writer of a copy of the file `source`, for `replace_in_folder`."""

    def write(path: str) -> None:
        with open(source, "rb") as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)

    return write


def _no_stale(name: str) -> bool:
    return False


def replace_in_folder(folder: str | os.PathLike, files: Mapping[str, Writer],
                      stale: Callable[[str], bool] = _no_stale, keystone: str | None = "config.json") -> None:
    """Make `folder` hold `files` in one atomic step; its other entries stay, except those `stale` names.

    Args:
        folder: the target folder (created with its parents if needed); a symlink to a folder is followed.
        files: file name -> `writer(path)`, which writes that file at `path` (an empty file; the writer may
            replace it). It gets the old file's mode, else the umask's.
        stale: names of entries the new version must not keep (e.g. weight shards of an older save).
        keystone: the file without which readers refuse the folder; when the fallback renames files in one
            by one it is removed first and renamed in last.

    Raises:
        Whatever a writer raises: the folder is then as it was, and the temporaries are gone.
    """
    folder = os.path.realpath(os.fspath(folder))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is a file; give a folder to save into.")
    parent, name = os.path.split(folder)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent, name)
    if os.path.isdir(folder):
        with _folder_lock(folder):
            _finish(folder)
            remove_stale_temporaries(folder)
    if not _can_swap(folder):
        os.makedirs(folder, exist_ok=True)
        with _folder_lock(folder):
            staged = {}
            try:
                for file_name, writer in files.items():
                    staged[file_name] = temporary_name(file_name)
                    _write_new(os.path.join(folder, staged[file_name]), writer, os.path.join(folder, file_name))
                _commit(folder, staged, stale, keystone)
            finally:
                if not os.path.lexists(os.path.join(folder, COMMIT_RECORD)):  # else the next reader finishes it
                    for tmp in staged.values():
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(os.path.join(folder, tmp))
        return
    staging, fd = new_temporary_folder(parent, name)
    try:
        existed = os.path.isdir(folder)
        if existed:
            os.chmod(staging, file_mode(folder))
            _link_entries(folder, staging, skip=lambda n: n in files or stale(n) or n == COMMIT_RECORD
                          or is_temporary(n))
        for file_name, writer in files.items():
            _write_new(os.path.join(staging, file_name), writer, os.path.join(folder, file_name))
        fsync_path(staging)
        if (existed or not _rename_new(staging, folder)) and not _exchange(staging, folder):
            _commit_staged_folder(folder, staging, list(files), stale, keystone)
        fsync_path(parent)
    finally:
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)  # after a swap: the old version


def finish_interrupted_save(folder: str | os.PathLike) -> None:
    """Complete a fallback save into `folder` that was killed after its commit (no-op otherwise).

    Raises:
        CheckpointError: the save must be finished but the folder is not writable.
    """
    folder = os.fspath(folder)
    if not os.path.isfile(os.path.join(folder, COMMIT_RECORD)):
        return
    try:
        with _folder_lock(folder):
            _finish(folder)
    except PermissionError as err:
        raise checkpoint_error(folder, "holds a save that was interrupted half way",
                               "Load or save it once as a user who may write to it, which finishes the save.") from err


def read_consistently(folder: str | os.PathLike, read: Callable[[], T], attempts: int = 5) -> T:
    """`read()` (which reads files of `folder`), again if a save into `folder` finished meanwhile.

    Args:
        folder: the folder `read` reads.
        read: reads files of the folder and returns what it read.
        attempts: reads before giving up on a folder that keeps changing.

    Returns:
        What the last `read()` returned, all of it from one version of the folder.

    Raises:
        CheckpointError: the folder changed during every attempt.
    """
    folder = os.fspath(folder)
    finish_interrupted_save(folder)
    for attempt in range(attempts):
        before = _version(folder)
        try:
            result = read()
        except Exception:
            if attempt + 1 < attempts and _version(folder) != before:
                continue
            raise
        if _version(folder) == before:
            return result
    raise checkpoint_error(folder, f"changed during each of {attempts} reads", "Load it when no save into it runs.")


# --- the swap ---------------------------------------------------------------------------------------------


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def _can_swap(folder: str) -> bool:
    parent = os.path.dirname(folder)
    if not os.access(parent, os.W_OK | os.X_OK):
        return False
    if not os.path.isdir(folder):
        return True
    try:
        cwd = os.path.realpath(os.getcwd())
    except FileNotFoundError:  # the working directory was deleted
        cwd = ""
    inside = cwd == folder or cwd.startswith(folder.rstrip(os.sep) + os.sep)
    return _renameat2() is not None and not inside and not os.path.ismount(folder)


def _rename_new(staging: str, folder: str) -> bool:
    """Rename the staged folder to a free (or empty) `folder`; False if a non-empty one appeared meanwhile."""
    try:
        os.rename(staging, folder)
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    return True


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically; False where the system or file system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), b)


def _write_new(path: str, writer: Writer, mode_like: str) -> None:
    with open(path, "xb"):
        pass
    writer(path)
    finish_file(path, file_mode(mode_like))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system inside the folder, hard links refused (protected_hardlinks)
        shutil.copy2(src, dst)


def _link_entries(src: str, dst: str, skip: Callable[[str], bool]) -> None:
    """Give `dst` every entry of `src` not skipped, as hard links (symlinks as symlinks)."""
    for entry in os.scandir(src):
        if skip(entry.name):
            continue
        target = os.path.join(dst, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            shutil.copytree(entry.path, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry.path, target)


# --- the in-place fallback --------------------------------------------------------------------------------


@contextlib.contextmanager
def _folder_lock(folder: str) -> Iterator[None]:
    """Hold the folder's lock: in-place saves, their recovery and the removal of temporaries take turns."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        yield
    finally:
        os.close(fd)


def _commit_staged_folder(folder: str, staging: str, names: list[str], stale, keystone) -> None:
    """The swap was refused: move the staged files into `folder` and commit them in place."""
    with _folder_lock(folder):
        staged = {}
        for file_name in names:
            staged[file_name] = temporary_name(file_name)
            os.rename(os.path.join(staging, file_name), os.path.join(folder, staged[file_name]))
        _commit(folder, staged, stale, keystone)


def _commit(folder: str, staged: dict[str, str], stale, keystone) -> None:
    """Write the commit record (the commit point), then carry it out. Hold the folder lock."""
    order = sorted(staged, key=lambda file_name: file_name == keystone)
    record = {
        "keystone": keystone,
        "rename": [[staged[file_name], file_name] for file_name in order],
        "remove": sorted(n for n in os.listdir(folder) if stale(n) and n not in staged and not is_temporary(n)),
    }
    fsync_path(folder)
    atomic_write_text(os.path.join(folder, COMMIT_RECORD), json.dumps(record, indent=1))
    _finish(folder)


def _finish(folder: str) -> None:
    """Carry out the commit record of `folder`, if any; idempotent. Hold the folder lock."""
    record_path = os.path.join(folder, COMMIT_RECORD)
    try:
        with open(record_path, encoding="utf-8") as fh:
            record = json.load(fh)
    except FileNotFoundError:
        return
    pending = [(tmp, final) for tmp, final in record["rename"] if os.path.lexists(os.path.join(folder, tmp))]
    keystone = record.get("keystone")
    if any(final == keystone for _, final in pending):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, keystone))
            fsync_path(folder)
    for name in record["remove"]:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
    for tmp, final in pending:
        os.replace(os.path.join(folder, tmp), os.path.join(folder, final))
    fsync_path(folder)
    os.remove(record_path)
    fsync_path(folder)


def _version(folder: str) -> tuple:
    """What changes when a save into `folder` completes: the folder itself and each file in it."""
    try:
        stat = os.stat(folder)
        entries = []
        for entry in os.scandir(folder):
            if is_temporary(entry.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                s = entry.stat()
                entries.append((entry.name, s.st_ino, s.st_size, s.st_mtime_ns))
    except FileNotFoundError:
        return ()
    return stat.st_dev, stat.st_ino, tuple(sorted(entries))


__all__ = [
    "COMMIT_RECORD", "Writer", "copy_of", "finish_interrupted_save", "read_consistently", "replace_in_folder",
    "text_file",
]
