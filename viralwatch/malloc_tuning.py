"""glibc malloc settings for the long-running commands (`run`, `demo`, `serve`), issue 13.

A polled demo grew 2-3 MB a minute while its Python heap stayed flat: the growth was memory
glibc had freed but kept. Two defaults cause it in a process that renders pages of a few hundred
KB from several threads:

- the mmap threshold is dynamic: once a large block (a page, a chart's JSON) is freed, blocks up
  to that size come from the heap instead of their own mapping, and the freed space fragments;
- each thread that allocates gets its own arena (up to 8 per core), each fragmenting alone.

Measured on a polled demo over 25 minutes: the free space malloc kept rose to 34-42 MB by
default, to 15 MB with the fixed threshold alone, 24 MB with two arenas alone, and stayed at 2-8
MB with both (docs/BENCHMARKS.md has the resident memory over 30 minutes).
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
