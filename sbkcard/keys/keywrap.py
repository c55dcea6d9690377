"""Key wrapping under a transport key: NIST SP 800-38F KW (RFC 3394) on a 128-bit block cipher.

Keys travel from the provincial centre to a city's issuing line encrypted under a
transport key (Part 10 §6.2.1: a 128-bit symmetric key). KW gives confidentiality and an
integrity check in one construction and is what PKCS#11 tokens offer as
``CKM_AES_KEY_WRAP``; the same construction is applied with SM4 for SM4 transport keys.
The plaintext is the key's value, at least 16 bytes and a multiple of 8 (a single-length
DES key travels as ``K ‖ K``, see :func:`transport_form`).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from sbkcard.keys.store import KeyAlgorithm, TamperedError, UnsupportedKeyError
from sbkcard.keys.zeroize import zeroize

__all__ = ["KW_IV", "from_transport_form", "kw_unwrap", "kw_wrap", "transport_form"]

KW_IV = bytes.fromhex("A6A6A6A6A6A6A6A6")
_ROUNDS = 6


def _cipher(kek: bytearray, algorithm: KeyAlgorithm) -> Cipher[modes.ECB]:
    if algorithm is KeyAlgorithm.AES:
        return Cipher(algorithms.AES(kek), modes.ECB())
    if algorithm is KeyAlgorithm.SM4:
        return Cipher(algorithms.SM4(bytes(kek)), modes.ECB())
    raise UnsupportedKeyError(
        "transport key: KW needs a 128-bit block cipher (AES or SM4), not DES"
    )


def _block(context: CipherContext, block: bytearray, scratch: bytearray) -> None:
    """Encrypt or decrypt the 16-byte ``block`` in place (``scratch``: 31 bytes, see
    ``CipherContext.update_into``), without an immutable copy of it."""
    context.update_into(block, scratch)
    block[:] = scratch[:16]


def kw_wrap(kek: bytearray, algorithm: KeyAlgorithm, plaintext: bytearray) -> bytes:
    """Wrap ``plaintext`` (≥ 16 bytes, a multiple of 8) under ``kek`` (SP 800-38F §6.2).

    Known answer (RFC 3394 §4.1): KEK ``000102…0F`` wraps ``00112233…FF`` (16 bytes) to
    ``1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5``:

    >>> kek = bytearray(range(16))
    >>> key = bytearray.fromhex("00112233445566778899AABBCCDDEEFF")
    >>> kw_wrap(kek, KeyAlgorithm.AES, key).hex().upper()
    '1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5'
    """
    if len(plaintext) < 16 or len(plaintext) % 8:
        raise UnsupportedKeyError(
            f"key wrap: the key must be 16 bytes or more and a multiple of 8, not {len(plaintext)}"
        )
    count = len(plaintext) // 8
    registers = bytearray(plaintext)
    block = bytearray(16)
    scratch = bytearray(31)
    context = _cipher(kek, algorithm).encryptor()
    try:
        block[:8] = KW_IV
        for round_ in range(_ROUNDS):
            for index in range(count):
                block[8:] = registers[8 * index : 8 * index + 8]
                _block(context, block, scratch)
                step = count * round_ + index + 1
                block[:8] = (int.from_bytes(block[:8]) ^ step).to_bytes(8)
                registers[8 * index : 8 * index + 8] = block[8:]
        return bytes(block[:8]) + bytes(registers)
    finally:
        zeroize(registers, block, scratch)


def kw_unwrap(kek: bytearray, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
    """Unwrap a :func:`kw_wrap` result; :class:`TamperedError` if the integrity check fails."""
    if len(wrapped) < 24 or len(wrapped) % 8:
        raise TamperedError(
            f"key unwrap: a wrapped key is 24 bytes or more and a multiple of 8, not {len(wrapped)}"
        )
    count = len(wrapped) // 8 - 1
    registers = bytearray(wrapped[8:])
    block = bytearray(16)
    scratch = bytearray(31)
    check = bytearray(wrapped[:8])
    context = _cipher(kek, algorithm).decryptor()
    try:
        for round_ in reversed(range(_ROUNDS)):
            for index in reversed(range(count)):
                step = count * round_ + index + 1
                block[:8] = (int.from_bytes(check) ^ step).to_bytes(8)
                block[8:] = registers[8 * index : 8 * index + 8]
                _block(context, block, scratch)
                check[:] = block[:8]
                registers[8 * index : 8 * index + 8] = block[8:]
        if check != KW_IV:
            zeroize(registers)
            raise TamperedError(
                "key unwrap: integrity check failed (wrong transport key or altered ciphertext)"
            )
        return registers
    finally:
        zeroize(block, scratch, check)


def transport_form(key: bytearray) -> bytearray:
    """The bytes that travel for ``key``: a single-length DES key ``K`` as ``K ‖ K``."""
    return key + key if len(key) == 8 else bytearray(key)


def from_transport_form(data: bytearray, length: int) -> bytearray:
    """Undo :func:`transport_form` for a key of ``length`` bytes (checking ``K ‖ K``)."""
    if length == len(data):
        return bytearray(data)
    if length == 8 and len(data) == 16 and data[:8] == data[8:]:
        return data[:8]
    raise TamperedError(f"unwrapped key: {len(data)} bytes do not carry a {length}-byte key")
