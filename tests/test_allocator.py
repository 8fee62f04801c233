"""`import tf_longformer` selects TensorFlow's system CPU allocator (unless the user chose), so the memory
of a forward's intermediate tensors goes back to the system instead of staying in oneDNN's pool."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a 144 MiB intermediate (scores of a band-shaped matmul) inside a tf.function, then RSS after trimming
SCRIPT = """
import ctypes, os
import tf_longformer  # noqa: F401  (before TensorFlow allocates anything)
import tensorflow as tf

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

x, y = tf.random.normal((12, 16, 256, 64)), tf.random.normal((12, 16, 768, 64))

@tf.function
def f(x, y):
    s = tf.matmul(x, y, transpose_b=True)
    return tf.reduce_sum(tf.matmul(tf.exp(s - tf.reduce_max(s, -1, keepdims=True)), y))

libc = ctypes.CDLL("libc.so.6")
libc.malloc_trim(0)
before = rss_mib()
f(x, y).numpy()
libc.malloc_trim(0)
print(os.environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"], rss_mib() - before)
"""


def _retained(env_value: str | None) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"}
    if env_value is not None:
        env["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = env_value
    env["PYTHONPATH"] = ROOT
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    setting, mib = out.stdout.split()[-2:]
    return setting, float(mib)


def test_import_selects_the_system_allocator_and_memory_goes_back():
    setting, retained = _retained(None)
    assert setting == "1"
    assert retained < 40, f"{retained:.0f} MiB still resident after the call"


def test_a_users_choice_is_kept():
    setting, retained = _retained("0")
    assert setting == "0"
    # the pool keeps the intermediates: this is what the default avoids (and shows the check above can fail)
    assert retained > 100, f"only {retained:.0f} MiB retained with the pooling allocator"
