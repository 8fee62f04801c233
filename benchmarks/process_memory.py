"""Resident memory of the current process (Linux `/proc`), shared by the benchmark scripts."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource


def rss_bytes() -> int:
    """Current resident set size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_split_gib() -> dict[str, float]:
    """Resident memory (GiB): total, anonymous (heap, pools, buffers) and file-backed (mapped library code),
    from `/proc/self/smaps_rollup`."""
    values = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Anonymous:"):
                values[parts[0][:-1]] = int(parts[1]) / 2**20
    return {"rss": values["Rss"], "anon": values["Anonymous"], "file": values["Rss"] - values["Anonymous"]}


def peak_rss_bytes() -> int:
    """Peak RSS since the process started or since the last `reset_peak_rss()` (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux `clear_refs` 5); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_free_heap() -> bool:
    """Return the C heap's free pages to the system (glibc `malloc_trim(0)`); False where there is no glibc.

    glibc keeps freed heap memory for reuse, so a process's RSS stays at its highest point: after an XLA
    compilation it still holds the compiler's freed working memory. The benchmarks call this once after the
    warm-up for every implementation alike, so the memory measured after it is what the forwards use.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError, TypeError):
        return False
