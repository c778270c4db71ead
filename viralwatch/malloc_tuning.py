"""glibc malloc settings for the long-running commands (`run`, `demo`, `serve`), issue 13.

A polled demo grew 2-3 MB a minute while its Python heap stayed flat: the growth was memory
glibc had freed but kept. Two defaults cause it in a process that renders pages of a few hundred
KB from several threads:

- the mmap threshold is dynamic: once a large block (a page, a chart's JSON) is freed, blocks up
  to that size come from the heap instead of their own mapping, and the freed space fragments;
- each thread that allocates gets its own arena (up to 8 per core), each fragmenting alone.

Fixing the threshold at glibc's own starting value and allowing two arenas kept the free space
inside malloc flat (4-9 MB after 15 minutes, against 34 MB and rising), see docs/RELIABILITY.md.
Environment variables a user sets (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_) win.
"""

from __future__ import annotations

import ctypes
from collections.abc import Collection

# mallopt parameters, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, no longer raised by large frees
ARENAS = 2
SETTINGS = {
    "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
    "MALLOC_ARENA_MAX": (M_ARENA_MAX, ARENAS),
}


def tune_malloc(environment: Collection[str]) -> list[str]:
    """Apply the settings not named in `environment` (call before the process starts its
    threads); returns the names of those applied: none off glibc (musl, macOS)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc
    except (OSError, AttributeError):
        return []
    return [
        name
        for name, (param, value) in SETTINGS.items()
        if name not in environment and libc.mallopt(param, value) == 1
    ]
