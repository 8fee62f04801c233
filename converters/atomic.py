"""Atomic file writes for the whole project: a reader sees the old file or the new one, never half of one.

A file is written under a hidden temporary name beside its final path, flushed to disk, then renamed over
the final path. Temporaries are hidden folders named `.tmp-<16 hex>-<final name>`, holding the file under
its final name (writers that check the suffix, such as Keras' `.keras`, accept it), locked (`flock`) while
their writer lives: `remove_stale_temporaries` deletes those a killed writer left behind, never one in
use. New files honour the umask, as `open()` does (not 0600 as `mkstemp` makes them); a replaced file keeps
its mode.

Numpy- and stdlib-only, like the rest of `converters`: the library imports it, not the other way round.

Example:
    >>> with atomic_path("out/model.safetensors") as tmp:   # doctest: +SKIP
    ...     write_file(tmp)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks; temporaries are then never removed by others
    fcntl = None

_TEMPORARY = re.compile(r"^\.tmp-[0-9a-f]{16}-(?P<final>.+)$")


def temporary_name(final_name: str) -> str:
    """A fresh hidden name for a temporary of `final_name`, in the same folder."""
    return f".tmp-{secrets.token_hex(8)}-{final_name}"


def is_temporary(name: str) -> bool:
    """Whether `name` (a folder entry) is a temporary of this module."""
    return _TEMPORARY.match(name) is not None


def _lock(fd: int, blocking: bool = True) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _create_locked_folder(path: str) -> int | None:
    """Create the folder `path` (umask applied), lock it and return its open descriptor.

    Returns None when the name is taken, or when a cleaner removed the folder between creation and
    locking (the caller tries another name).
    """
    try:
        os.mkdir(path, 0o777)
    except FileExistsError:
        return None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    _lock(fd)
    try:
        still_ours = os.path.samestat(os.fstat(fd), os.lstat(path))
    except FileNotFoundError:
        still_ours = False
    if not still_ours:
        os.close(fd)
        return None
    return fd


def new_temporary_folder(directory: str, final_name: str) -> tuple[str, int]:
    """A new, locked, hidden temporary folder for `final_name` in `directory`: `(path, descriptor)`.

    The lock lasts until the descriptor is closed; it keeps `remove_stale_temporaries` away.
    """
    while True:
        path = os.path.join(directory, temporary_name(final_name))
        fd = _create_locked_folder(path)
        if fd is not None:
            return path, fd


def remove_stale_temporaries(directory: str, final_name: str | None = None) -> list[str]:
    """Delete the temporaries in `directory` (of `final_name` only, if given) whose writer is gone.

    Returns:
        The removed paths.
    """
    if fcntl is None or not os.path.isdir(directory):
        return []
    removed = []
    for name in os.listdir(directory):
        match = _TEMPORARY.match(name)
        if match is None or (final_name is not None and match["final"] != final_name):
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            if not _lock(fd, blocking=False) or not os.path.samestat(os.fstat(fd), os.lstat(path)):
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def file_mode(path: str) -> int | None:
    """The permission bits of an existing `path`, else None."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def fsync_path(path: str) -> None:
    """Flush a file or folder to disk (best effort for folders, which some systems cannot fsync)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


def default_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:  # reads the umask without changing it
            umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def finish_file(path: str, mode: int | None) -> None:
    """Give a freshly written file its final mode and flush it to disk.

    Writers may replace the file they were given (safetensors writes its own temporary, mode 0600, and
    renames it), so this works on whatever file is at `path` now.
    """
    os.chmod(path, default_mode() if mode is None else mode)
    fsync_path(path)


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path for `final_path`; on success move it into place, on error delete it.

    The temporary path has the final file's name, inside a hidden locked folder beside it, so the writer
    may check the suffix or replace the file. The result gets the old file's mode, else the umask's.

    Example:
        >>> with atomic_path("out/model.safetensors") as tmp:   # doctest: +SKIP
        ...     write_file(tmp)
    """
    final_path = os.path.abspath(os.fspath(final_path))
    directory, final_name = os.path.split(final_path)
    os.makedirs(directory, exist_ok=True)
    staging, fd = new_temporary_folder(directory, final_name)
    tmp = os.path.join(staging, final_name)
    try:
        yield tmp
        finish_file(tmp, file_mode(final_path))
        os.replace(tmp, final_path)
        fsync_path(directory)
    finally:
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_with(path: str | os.PathLike, writer: Callable[[str], None]) -> None:
    """Call `writer(tmp_path)` and move the result to `path` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


__all__ = [
    "atomic_path", "atomic_write_text", "atomic_write_with", "default_mode", "file_mode", "finish_file",
    "fsync_path", "is_temporary", "new_temporary_folder", "remove_stale_temporaries", "temporary_name",
]
