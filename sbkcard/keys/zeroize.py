"""Key buffers that can be wiped: ``bytearray`` in, zeros out (Part 10 §6.3.3).

Python's ``bytes`` are immutable and may be copied or interned by the interpreter, so
key material handled by the key stores and ceremonies lives in ``bytearray`` objects,
overwritten in place as soon as they are no longer needed. What this cannot guarantee
(copies made inside ``cryptography``/OpenSSL or a PKCS#11 library, the immutable
``bytes`` copies that the ``sbkcard.keys`` functions take and return, pages swapped to
disk, memory the garbage collector released before it was wiped) is listed in
``docs/guide/80-keys-and-ceremonies.rst``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["random_secret", "wiped", "xor_into", "zeroize"]

_URANDOM = "/dev/urandom"


def zeroize(*buffers: bytearray) -> None:
    """Overwrite every byte of each buffer with zero, in place."""
    for buffer in buffers:
        buffer[:] = bytes(len(buffer))


@contextmanager
def wiped(buffer: bytearray) -> Iterator[bytearray]:
    """Hand out ``buffer`` and zeroize it when the block ends, however it ends."""
    try:
        yield buffer
    finally:
        zeroize(buffer)


def random_secret(length: int) -> bytearray:
    """``length`` bytes from the operating system's CSPRNG, read straight into a bytearray.

    On systems with ``/dev/urandom`` the bytes are read with ``readinto`` so no immutable
    copy is made; elsewhere ``os.urandom`` is used (and its ``bytes`` result cannot be wiped).
    """
    buffer = bytearray(length)
    if os.path.exists(_URANDOM):
        with open(_URANDOM, "rb", buffering=0) as source:
            filled = 0
            view = memoryview(buffer)
            while filled < length:
                filled += source.readinto(view[filled:]) or 0
            view.release()
    else:
        buffer[:] = os.urandom(length)
    return buffer


def xor_into(target: bytearray, other: bytes | bytearray) -> None:
    """``target ^= other`` byte by byte, in place (key components, Part 10 §6.4.2)."""
    if len(target) != len(other):
        raise ValueError(f"xor: operands differ in length ({len(target)} and {len(other)} bytes)")
    for index, value in enumerate(other):
        target[index] ^= value
