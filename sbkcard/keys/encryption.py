"""Data encryption for secure messaging and key loading (Part 4 §8.3; Part 9 §7.1.2).

The block is ``LD ‖ data`` (LD = plaintext length, one byte), padded with ``80 00…`` only
when it is not already a whole number of blocks, and encrypted block by block (ECB).
"""

from __future__ import annotations

from sbkcard.keys.ciphers import Algorithm, check_key, decrypt_block, encrypt_block
from sbkcard.keys.errors import DataLengthError, PaddingError
from sbkcard.keys.padding import pad80

__all__ = ["MAX_PLAINTEXT", "decrypt_data", "encrypt_data"]

MAX_PLAINTEXT = 0xFF


def encrypt_data(key: bytes, plaintext: bytes, algorithm: Algorithm) -> bytes:
    """Encrypt ``LD ‖ plaintext`` (80-padded if unaligned) under ``key`` in ECB.

    Example (the PIN reload of a real SM4 card): the new PIN ``123456`` is the block
    ``03 12 34 56 80 00…`` before encryption.
    """
    check_key(key, algorithm)
    if len(plaintext) > MAX_PLAINTEXT:
        raise DataLengthError(
            f"plaintext: LD is one byte, so at most {MAX_PLAINTEXT} bytes, got {len(plaintext)}"
        )
    block = pad80(bytes([len(plaintext)]) + plaintext, algorithm.block_size, always=False)
    return encrypt_block(key, block, algorithm)


def decrypt_data(key: bytes, ciphertext: bytes, algorithm: Algorithm) -> bytes:
    """Decrypt a block made by :func:`encrypt_data` and return the plaintext.

    Raises :class:`PaddingError` when LD does not fit the block or the bytes after the
    plaintext are not the ``80 00…`` padding (which usually means a wrong key).
    """
    check_key(key, algorithm)
    if not ciphertext or len(ciphertext) % algorithm.block_size:
        raise DataLengthError(
            f"ciphertext: {algorithm.label} needs a non-empty multiple of "
            f"{algorithm.block_size} bytes, got {len(ciphertext)}"
        )
    block = decrypt_block(key, ciphertext, algorithm)
    length = block[0]
    if length > len(block) - 1:
        raise PaddingError(
            f"decrypted data: LD = {length} but only {len(block) - 1} bytes follow "
            "(wrong key or corrupted ciphertext)"
        )
    tail = block[1 + length :]
    if tail and (len(tail) >= algorithm.block_size or tail != pad80(b"", len(tail))):
        raise PaddingError(
            f"decrypted data: the {len(tail)} bytes after LD = {length} are not 80 00… "
            "padding (wrong key or corrupted ciphertext)"
        )
    return block[1 : 1 + length]
