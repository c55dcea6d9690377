"""The standard's 4-byte MAC and the TAC (Part 4 §8.2.4; Part 9 §7.1.3, §7.2.3).

- 8-byte blocks, single-length key: ISO/IEC 9797-1 MAC algorithm 1 (CBC-DES), the left
  4 bytes of the last block (Part 4 figure 1).
- 8-byte blocks, double-length key: ISO/IEC 9797-1 MAC algorithm 3, the "retail MAC":
  CBC single DES under KL, then DES⁻¹ under KR and DES under KL on the last block
  (Part 9 figure 5 B, the PSAM's CREATE/CHANGE KEY).
- 16-byte blocks: CBC, then the 16-byte result XOR-folded into 4 bytes (Part 4 figure 2).

Padding is always ``80`` then ``00`` to a block boundary, with a whole extra block when the
input is aligned (ISO 9797-1 padding method 2). The IV is zero unless given; the PSAM's
key commands use the 4-byte challenge right-padded with ``00``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, modes

from sbkcard.keys.ciphers import Algorithm, block_cipher, check_key, cipher
from sbkcard.keys.errors import DataLengthError
from sbkcard.keys.padding import fold, pad80, xor

__all__ = ["MAC_LENGTH", "cbc_chain", "mac", "mac_of_chain", "tac"]

MAC_LENGTH = 4


def _iv(iv: bytes | None, algorithm: Algorithm) -> bytes:
    size = algorithm.block_size
    if iv is None:
        return bytes(size)
    if not 1 <= len(iv) <= size:
        raise DataLengthError(
            f"MAC IV: {algorithm.label} takes up to {size} bytes (right-padded with 00), "
            f"got {len(iv)} bytes"
        )
    return iv + bytes(size - len(iv))


def _cbc_last(key: bytes, data: bytes, algorithm: Algorithm, iv: bytes) -> bytes:
    encryptor = Cipher(block_cipher(key, algorithm), modes.CBC(iv)).encryptor()
    return (encryptor.update(data) + encryptor.finalize())[-algorithm.block_size :]


def cbc_chain(key: bytes, chain: bytes, data: bytes, algorithm: Algorithm) -> bytes:
    """The CBC value after the whole blocks ``data``, starting from the block ``chain``.

    For a MAC computed over several commands (the PSAM's CIPHER DATA, Part 9 §9.8.2:
    first block, further blocks, last blocks); no padding, ``data`` may be empty.
    """
    if len(chain) != algorithm.block_size or len(data) % algorithm.block_size:
        raise DataLengthError(
            f"CBC chaining: {algorithm.label} works on whole {algorithm.block_size}-byte "
            f"blocks, got a {len(chain)}-byte chain value and {len(data)} bytes of data"
        )
    return _cbc_last(key, data, algorithm, chain) if data else chain


def mac_of_chain(last: bytes, algorithm: Algorithm) -> bytes:
    """The 4-byte MAC of a final CBC block with a single-length key (Part 4 §8.2.4).

    The left half of an 8-byte block (Part 4 figure 1), the XOR fold of a 16-byte one
    (Part 4 figure 2).
    """
    return last[:MAC_LENGTH] if algorithm is Algorithm.DES else fold(last, MAC_LENGTH)


def mac(key: bytes, data: bytes, algorithm: Algorithm, iv: bytes | None = None) -> bytes:
    """The 4-byte MAC of ``data`` under ``key`` (Part 4 §8.2.4).

    ``data`` is the whole MAC input (for a command: CLA INS P1 P2 Lc ‖ data, Lc already
    counting the 4 MAC bytes); the function pads it. Known answer (ICAO Doc 9303 part 11
    appendix D.3, algorithm 3 with padding method 2): key
    ``7962D9ECE03D1ACD4C76089DCE131543`` over
    ``72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2`` gives
    ``5F1448EE``:

    >>> from sbkcard.keys import Algorithm
    >>> key = bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543")
    >>> data = bytes.fromhex(
    ...     "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    >>> mac(key, data, Algorithm.DES).hex().upper()
    '5F1448EE'
    """
    check_key(key, algorithm)
    padded = pad80(data, algorithm.block_size)
    start = _iv(iv, algorithm)
    if algorithm is Algorithm.SM4 or len(key) == 8:
        return mac_of_chain(_cbc_last(key, padded, algorithm, start), algorithm)
    left, right = key[:8], key[8:]
    last = _cbc_last(left, padded, algorithm, start)
    decryptor = cipher(right, algorithm).decryptor()
    last = decryptor.update(last) + decryptor.finalize()
    encryptor = cipher(left, algorithm).encryptor()
    return (encryptor.update(last) + encryptor.finalize())[:MAC_LENGTH]


def tac(dtk: bytes, data: bytes, algorithm: Algorithm) -> bytes:
    """The TAC of an offline medical transaction (Part 7 §15; Part 9 §7.1.4).

    The TAC uses the MAC algorithm with no session key: for DES the key is the XOR of
    the DTK's left and right halves (a single-length key), for 16-byte ciphers the DTK
    itself.
    """
    check_key(dtk, algorithm, what="DTK")
    if algorithm is Algorithm.DES and len(dtk) == 16:
        dtk = xor(dtk[:8], dtk[8:])
    return mac(dtk, data, algorithm)
