"""Key check values: how keys are identified everywhere a key may not be shown.

The standard names no check value; sbkcard uses the banking convention (ANSI X9.24-1,
GlobalPlatform): the key's encryption of one zero block, truncated to 3 bytes.
"""

from __future__ import annotations

from sbkcard.keys.ciphers import Algorithm, encrypt_block

__all__ = ["KCV_LENGTH", "kcv"]

KCV_LENGTH = 3


def kcv(key: bytes, algorithm: Algorithm) -> bytes:
    """The first 3 bytes of the key's encryption of one all-zero block.

    Known answer: the DES key ``0123456789ABCDEF`` has the KCV ``D5D44F`` (DES of
    ``0000000000000000`` is ``D5D44FF720683D0D``):

    >>> from sbkcard.keys import Algorithm
    >>> kcv(bytes.fromhex("0123456789ABCDEF"), Algorithm.DES).hex().upper()
    'D5D44F'
    """
    return encrypt_block(key, bytes(algorithm.block_size), algorithm)[:KCV_LENGTH]
