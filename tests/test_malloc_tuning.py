"""The long-running commands keep glibc from hoarding freed memory (issue 13).

Each check runs in a fresh interpreter, since malloc's settings are per process and must be set
before threads allocate. The figures are counts glibc reports (arenas, mapped bytes), not RSS.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

try:
    ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
except (OSError, AttributeError):
    pytest.skip("glibc only", allow_module_level=True)

PROBE = textwrap.dedent(
    """
    import ctypes, json, os, re, sys, threading
    from viralwatch.malloc_tuning import tune_malloc

    libc = ctypes.CDLL("libc.so.6")
    applied = tune_malloc(os.environ) if sys.argv[1] == "tuned" else []

    def heaps():
        buf, size = ctypes.c_char_p(), ctypes.c_size_t()
        libc.open_memstream.restype = ctypes.c_void_p
        stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        return len(re.findall(r"<heap nr=", ctypes.string_at(buf, size.value).decode()))

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
            "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc.mallinfo2.restype = MallInfo2
    # A page-sized block freed, then a smaller one: glibc's default raises its threshold on
    # the free, so the second comes from the heap (where its space fragments once freed).
    page = bytearray(1 << 20)
    del page
    before = libc.mallinfo2().hblkhd
    held = bytearray(512 << 10)
    mapped = libc.mallinfo2().hblkhd - before
    # Eight threads allocating at once, as the dashboard's and the collectors' workers do.
    barrier = threading.Barrier(9)
    def work():
        block = [bytearray(4096) for _ in range(64)]
        barrier.wait()
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    barrier.wait()
    arenas = heaps()
    barrier.wait()
    for t in threads:
        t.join()
    print(json.dumps({"applied": applied, "arenas": arenas, "mapped": mapped}))
    """
)


def probe(mode: str, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_untuned_glibc_gives_each_thread_an_arena_and_raises_its_mmap_threshold() -> None:
    # The defaults the tuning changes: without it, the checks below would see these figures.
    found = probe("default")
    assert found["arenas"] == 9  # the main arena and one per thread
    assert found["mapped"] == 0  # the 512 KB block came from the heap


def test_tuned_malloc_uses_two_arenas_and_maps_large_blocks() -> None:
    found = probe("tuned")
    assert found["applied"] == ["MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX"]
    assert found["arenas"] == 2
    assert found["mapped"] >= 512 << 10  # its own mapping, returned to the system when freed


def test_a_users_malloc_environment_wins() -> None:
    found = probe("tuned", MALLOC_ARENA_MAX="4")
    assert found["applied"] == ["MALLOC_MMAP_THRESHOLD_"]
    assert found["arenas"] == 4  # glibc's own reading of the variable
