"""The one exception type raised for any problem with a checkpoint file."""

from __future__ import annotations

import os


class CheckpointError(ValueError):
    """A checkpoint file or folder is missing, unreadable, corrupt, truncated or incomplete.

    The message always names the offending path and says what to do about it.
    """


def checkpoint_error(path: str | os.PathLike[str], problem: str, advice: str) -> CheckpointError:
    """Build a :class:`CheckpointError` with a uniform message.

    Args:
        path: The file or folder at fault.
        problem: What went wrong, e.g. ``"is truncated or not a safetensors file"``.
        advice: What the user should do, e.g. ``"re-download the checkpoint"``.

    Returns:
        The error, ready to ``raise``.
    """
    return CheckpointError(f"{os.fspath(path)!s}: {problem}. {advice}")


REDOWNLOAD = "Re-download or re-export the checkpoint (the file may be incomplete or damaged)."
