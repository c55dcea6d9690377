"""Session (process) keys and authentication data (Part 4 §8.4, §9.3; Part 9 §7.1.5).

A session key is the encryption of a random under the original key: for DES the random
(4 bytes padded with ``00``×4, or 8 bytes) is encrypted with single DES or 3DES-EDE and the
session key is always single length; for 16-byte ciphers the random (4, 8 or 16 bytes) is
right-padded with ``00`` to 16 bytes. Authentication data is the session key's encryption
of 8 bytes of original data; for 16-byte ciphers of ``data ‖ 00×8``, folded to 8 bytes.
"""

from __future__ import annotations

from sbkcard.keys.ciphers import Algorithm, check_key, encrypt_block
from sbkcard.keys.errors import DataLengthError
from sbkcard.keys.padding import fold

__all__ = ["AUTH_DATA_LENGTH", "auth_data", "session_key"]

AUTH_DATA_LENGTH = 8


def session_key(key: bytes, random: bytes, algorithm: Algorithm) -> bytes:
    """The session key of ``key`` for ``random`` (Part 4 §8.4.1 figures 7–8, §8.4.2 figure 9).

    ``random`` is the card's challenge (4 or 8 bytes; 16 for 16-byte ciphers) or, for the
    medical purchase, ``random(4) ‖ purchase seq(2) ‖ terminal seq(2)`` (Part 7 §12.3).
    """
    check_key(key, algorithm)
    size = algorithm.block_size
    if not 1 <= len(random) <= size:
        raise DataLengthError(
            f"session-key input: {algorithm.label} takes up to {size} bytes, "
            f"got {len(random)} bytes"
        )
    return encrypt_block(key, random + bytes(size - len(random)), algorithm)


def auth_data(session_key: bytes, data: bytes, algorithm: Algorithm) -> bytes:
    """The 8-byte authentication data of ``data`` under ``session_key`` (Part 4 §9.3).

    DES: ``DES(SK, data)``; 16-byte ciphers: ``T = E(SK, data ‖ 00×8)``, then
    ``T[0:8] XOR T[8:16]`` (Part 4 figure 11).
    """
    check_key(session_key, algorithm, what="session key")
    if len(data) != AUTH_DATA_LENGTH:
        raise DataLengthError(
            f"authentication input: original data is {AUTH_DATA_LENGTH} bytes, got {len(data)}"
        )
    if algorithm is Algorithm.DES:
        return encrypt_block(session_key, data, algorithm)
    return fold(encrypt_block(session_key, data + bytes(8), algorithm), AUTH_DATA_LENGTH)
