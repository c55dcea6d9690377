"""The block ciphers of the standard behind one interface (Part 4 §6.3, FCI tag 86).

The DES environment uses single DES with 8-byte keys and two-key triple DES (EDE2) with
16-byte keys; the 16-byte-block environments use SSF33 (named by the standard, not
available in any library) or SM4 (GB/T 32907). All primitives come from ``cryptography``;
triple DES is taken from its ``decrepit`` module and always handed a 24-byte key, so no
deprecation warning is raised.
"""

from __future__ import annotations

from enum import Enum

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from sbkcard.keys.errors import DataLengthError, KeyLengthError, UnsupportedAlgorithmError

__all__ = [
    "Algorithm",
    "block_cipher",
    "check_key",
    "cipher",
    "decrypt_block",
    "encrypt_block",
    "key_lengths",
]


class Algorithm(Enum):
    """The algorithm identifier of the SSSE FCI (tag ``86``, S3 §10.1)."""

    DES = 0x01
    SSF33 = 0x02
    SM4 = 0x03

    @property
    def block_size(self) -> int:
        """Block length in bytes: 8 for DES/3DES, 16 for SSF33 and SM4."""
        return 8 if self is Algorithm.DES else 16

    @property
    def label(self) -> str:
        """The name used in the standard's text."""
        return {Algorithm.DES: "DES/3DES", Algorithm.SSF33: "SSF33", Algorithm.SM4: "SM4"}[self]


_KEY_LENGTHS = {Algorithm.DES: (8, 16), Algorithm.SSF33: (16,), Algorithm.SM4: (16,)}


def key_lengths(algorithm: Algorithm) -> tuple[int, ...]:
    """Key lengths the algorithm accepts (DES: 8 single, 16 double length; else 16)."""
    return _KEY_LENGTHS[algorithm]


_AVAILABLE: dict[Algorithm, tuple[int, ...]] = {
    a: lengths for a, lengths in _KEY_LENGTHS.items() if a is not Algorithm.SSF33
}
"""Key lengths by algorithm, for the algorithms a library implements."""


def check_key(key: bytes, algorithm: Algorithm, *, what: str = "key") -> None:
    """Raise :class:`KeyLengthError` unless ``key`` has a length ``algorithm`` accepts.

    SSF33 raises :class:`UnsupportedAlgorithmError`: it has no public implementation.
    """
    if len(key) in _AVAILABLE.get(algorithm, ()):
        return
    if algorithm is Algorithm.SSF33:
        raise UnsupportedAlgorithmError(
            "SSF33 (algorithm 02) is a state-restricted cipher with no public "
            "implementation; sbkcard supports DES/3DES (01) and SM4 (03)"
        )
    allowed = " or ".join(str(n) for n in _KEY_LENGTHS[algorithm])
    raise KeyLengthError(
        f"{what}: {algorithm.label} takes a {allowed}-byte key, got {len(key)} bytes"
    )


def block_cipher(key: bytes, algorithm: Algorithm) -> BlockCipherAlgorithm:
    """The ``cryptography`` block cipher for ``key``, to be used in any mode.

    DES keys are widened to the 24 bytes ``TripleDES`` wants: ``K‖K‖K`` for a single
    key (which is single DES) and ``KL‖KR‖KL`` for a double-length key (EDE2).
    """
    check_key(key, algorithm)
    if algorithm is Algorithm.SM4:
        return algorithms.SM4(key)
    return TripleDES(key * 3 if len(key) == 8 else key + key[:8])


def cipher(key: bytes, algorithm: Algorithm) -> Cipher[modes.ECB]:
    """An ECB ``Cipher`` for ``key`` (see :func:`block_cipher` for the DES key widening)."""
    return Cipher(block_cipher(key, algorithm), modes.ECB())


def _check_blocks(data: bytes, algorithm: Algorithm, what: str) -> None:
    if len(data) % algorithm.block_size:
        raise DataLengthError(
            f"{what}: {algorithm.label} works on whole {algorithm.block_size}-byte blocks, "
            f"got {len(data)} bytes"
        )


def encrypt_block(key: bytes, data: bytes, algorithm: Algorithm) -> bytes:
    """ECB-encrypt whole blocks of ``data`` under ``key``.

    Known answer (GB/T 32907 appendix A): SM4 with K = P =
    ``0123456789ABCDEFFEDCBA9876543210`` gives ``681EDF34D206965E86B3E94F536E4246``:

    >>> k = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    >>> encrypt_block(k, k, Algorithm.SM4).hex().upper()
    '681EDF34D206965E86B3E94F536E4246'
    """
    _check_blocks(data, algorithm, "plaintext")
    encryptor = cipher(key, algorithm).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decrypt_block(key: bytes, data: bytes, algorithm: Algorithm) -> bytes:
    """ECB-decrypt whole blocks of ``data`` under ``key`` (inverse of :func:`encrypt_block`)."""
    _check_blocks(data, algorithm, "ciphertext")
    decryptor = cipher(key, algorithm).decryptor()
    return decryptor.update(data) + decryptor.finalize()
