"""Helpers for the token lifecycle tests: run patctl at another time
(libfaketime, Debian package `faketime`) and note a token's last use in the
store's usage file as nginx's workers would (the layout of pat/usage.hpp)."""

import os
import pathlib
import struct

import pytest

LIBFAKETIME = pathlib.Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

# Under the sanitizers (make test-asan-core sets ASAN_OPTIONS) these tests
# are left to the plain run: ASan must be the first library of a process,
# and with libfaketime preloaded first an instrumented patctl aborts (and
# with ASan's runtime preloaded before it, hangs at start).
requires_faketime = pytest.mark.skipif(
    not LIBFAKETIME.exists() or "ASAN_OPTIONS" in os.environ,
    reason="libfaketime is not installed (Debian package faketime), or patctl runs under ASan")


def shifted(offset):
    """The environment that runs a program `offset` away from now: "+4d",
    "-40d", "+225h" (libfaketime's relative offsets; the clock keeps running)."""
    return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


# pat/usage.hpp
HEADER_BYTES = 64
SLOT_BYTES = 24
SLOTS = 1 << 19
WINDOW = 64
LAST_HOME = SLOTS - WINDOW
FILE_SIZE = HEADER_BYTES + SLOTS * SLOT_BYTES


def _fnv1a(h, data):
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


FNV_OFFSET = 1469598103934665603


def record_use(db, token_id, when_ms):
    """Writes (token_id, when_ms) into DB-usage, creating the file when absent."""
    path = pathlib.Path(str(db) + "-usage")
    if not path.exists():
        with open(path, "wb") as f:
            f.write(b"NPATUSE1" + struct.pack("<II", 1, SLOTS) + bytes(HEADER_BYTES - 16))
            f.truncate(FILE_SIZE)
    ident = token_id.encode()
    assert len(ident) == 12
    home = _fnv1a(FNV_OFFSET, ident) % (LAST_HOME + 1)
    time_bytes = struct.pack("<Q", when_ms)
    h = _fnv1a(_fnv1a(FNV_OFFSET, ident), time_bytes)
    seal = (h ^ (h >> 32)) & 0xFFFFFFFF
    slot = ident + struct.pack("<I", seal) + time_bytes
    with open(path, "r+b") as f:
        for index in range(home, home + WINDOW):
            f.seek(HEADER_BYTES + index * SLOT_BYTES)
            current = f.read(SLOT_BYTES)
            if current == bytes(SLOT_BYTES) or current[:12] == ident:
                f.seek(HEADER_BYTES + index * SLOT_BYTES)
                f.write(slot)
                return
    raise AssertionError("no free slot in the window")
