"""The ``80 00…`` padding and XOR folding used by the MAC and data encryption (Part 4 §8)."""

from __future__ import annotations

__all__ = ["fold", "pad80", "xor"]


def pad80(data: bytes, block_size: int, *, always: bool = True) -> bytes:
    """Append ``80`` and then ``00`` up to a block boundary (ISO 9797-1 padding method 2).

    With ``always`` (the MAC, Part 4 §8.2.4 step 4) aligned data gains a whole
    ``80 00…`` block; without it (data encryption, Part 4 §8.3.3 step 3) aligned data is
    left as it is.

    >>> pad80(b"\\x01", 8).hex()
    '0180000000000000'
    >>> len(pad80(bytes(8), 8)), len(pad80(bytes(8), 8, always=False))
    (16, 8)
    """
    if not always and len(data) % block_size == 0:
        return data
    data += b"\x80"
    return data + bytes(-len(data) % block_size)


def xor(a: bytes, b: bytes) -> bytes:
    """Byte-wise XOR of two equal-length strings."""
    if len(a) != len(b):
        raise ValueError(f"xor: operands differ in length ({len(a)} and {len(b)} bytes)")
    n = len(a)
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(n)


def fold(data: bytes, width: int) -> bytes:
    """XOR ``data`` in ``width``-byte chunks: 16 → 4 for the SM4 MAC, 16 → 8 for auth data.

    >>> fold(bytes.fromhex("01000000020000000400000008000000"), 4).hex()
    '0f000000'
    """
    acc = 0
    for i in range(0, len(data), width):
        acc ^= int.from_bytes(data[i : i + width])
    return acc.to_bytes(width)
