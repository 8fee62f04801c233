"""Start TensorFlow for a command without its native start-up log lines (shown with `--debug`).

TensorFlow's C++ side writes lines such as "Could not find cuda drivers on your machine" or "failed call to
cuInit" straight to file descriptor 2 while it is imported and while it looks for devices; some come from
absl logging, which `TF_CPP_MIN_LOG_LEVEL` does not silence. They are not errors of the command, so the
import and the device search run with descriptor 2 pointed at a temporary file, replayed if they fail.
"""

from __future__ import annotations

import os
import sys
import tempfile


def start_tensorflow(debug: bool = False) -> None:
    """Import TensorFlow and find its devices; their log lines go to stderr only with `debug`.

    Example:
        >>> start_tensorflow(debug=False)  # doctest: +SKIP
    """
    if debug or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
