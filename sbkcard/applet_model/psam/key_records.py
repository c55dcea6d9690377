"""PSAM key records: usage byte, key types, algorithm byte, key-ID allocation (Part 9 §6, annex A).

Every PSAM key except the application master key lives as a record in one of the three
key files (``0011`` national, ``0012`` provincial, ``0013`` city)::

    usage ‖ id (or version) ‖ 00 ‖ algorithm ‖ 00 00 (rights) ‖ 00 ‖ 00 ‖ key

The usage byte holds the number of diversification levels the key still needs in its
high 3 bits (b8–b6) and the key type in its low 5 bits: ``0x67`` is a national root
(3 levels) of an encryption key, ``0x26`` a city root (1 level) of a MAC key (Part 9
§6.2, annex B).  Purchase keys carry a version where the others carry an identifier.

The algorithm byte is ``00`` triple DES (16-byte key), ``01`` DES (8 bytes), ``02``
SSF33 (16 bytes) in Part 9 §6.2.  The standard gives no code for SM4 keys; sbkcard uses
``03``, the code of SM4 in the user card's FCI tag ``86`` (reader-interface spec §10.1),
so that one byte means one cipher throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from sbkcard.applet_model.psam.errors import PsamError
from sbkcard.keys import Algorithm, CryptoError, kcv

__all__ = [
    "KEY_ID_ALLOCATION",
    "RECORD_HEADER_LENGTH",
    "Authority",
    "IdRange",
    "KeyAlgorithm",
    "KeyHolder",
    "KeyRecord",
    "KeyType",
    "Operation",
    "allocation_of",
    "split_usage",
    "usage_byte",
]

RECORD_HEADER_LENGTH = 8
"""usage, id/version, RFU, algorithm, two rights bytes, two RFU bytes (Part 9 §6.1)."""

MAX_LEVELS = 3
"""Diversification levels a key may need: N = 0/1/2/3 (Part 9 table 23)."""


class Operation(Enum):
    """What a session key delivered by DELIVERY SESSION KEY may be used for (CIPHER DATA)."""

    MAC = "MAC"
    ENCRYPT = "encryption"


class KeyType(IntEnum):
    """The low 5 bits of the usage byte.

    Part 9 §6.3 names types 2, 6, 7, 8, 9 and 12; types 0, 1 and 3–5 are the remaining
    codes (not in Part 9's text).  Type 1 is what the PSAM's own authentication keys KID-01…03 are.
    """

    MASTER = 0
    MAINTENANCE = 1
    PURCHASE = 2
    PIN_UNBLOCK = 3
    PIN_RELOAD = 4
    APPLICATION_MAINTENANCE = 5
    MAC = 6
    ENCRYPTION = 7
    MAC_ENCRYPTION = 8
    LOAD = 9
    TAC = 12

    @property
    def label(self) -> str:
        """The standard's name of the type."""
        return _LABELS[self]

    @property
    def operations(self) -> frozenset[Operation]:
        """What a session key of this type may do through CIPHER DATA (empty: none).

        A MAC key only computes MACs, an encryption key only encrypts, type 8 does both
        (Part 9 §6.3); the PIN and maintenance keys (types 1, 3–5) do what their commands
        need (PIN reload: the new PIN encrypted and the command MACed).  Purchase keys
        serve only INIT/CREDIT SAM FOR PURCHASE, TAC keys have no session key.
        """
        return _OPERATIONS[self]


_LABELS = {
    KeyType.MASTER: "主控密钥 master key",
    KeyType.MAINTENANCE: "维护密钥 maintenance (PSAM authentication) key",
    KeyType.PURCHASE: "医疗消费密钥 medical purchase key",
    KeyType.PIN_UNBLOCK: "PIN解锁密钥 PIN unblock key",
    KeyType.PIN_RELOAD: "PIN重装密钥 PIN reload key",
    KeyType.APPLICATION_MAINTENANCE: "应用维护密钥 application maintenance key",
    KeyType.MAC: "MAC密钥 MAC key",
    KeyType.ENCRYPTION: "加密密钥 encryption key",
    KeyType.MAC_ENCRYPTION: "MAC、加密密钥 MAC and encryption key",
    KeyType.LOAD: "帐户划入密钥 account load key",
    KeyType.TAC: "TAC密钥 TAC key",
}

_MAC = frozenset({Operation.MAC})
_ENC = frozenset({Operation.ENCRYPT})
_BOTH = _MAC | _ENC
_NONE: frozenset[Operation] = frozenset()

_OPERATIONS = {
    KeyType.MASTER: _NONE,
    KeyType.MAINTENANCE: _NONE,
    KeyType.PURCHASE: _NONE,
    KeyType.PIN_UNBLOCK: _MAC,
    KeyType.PIN_RELOAD: _BOTH,
    KeyType.APPLICATION_MAINTENANCE: _MAC,
    KeyType.MAC: _MAC,
    KeyType.ENCRYPTION: _ENC,
    KeyType.MAC_ENCRYPTION: _BOTH,
    KeyType.LOAD: _MAC,
    KeyType.TAC: _NONE,
}


def usage_byte(key_type: KeyType, levels: int) -> int:
    """The usage byte: ``levels`` in b8–b6, ``key_type`` in b5–b1 (Part 9 §6.2)."""
    if not 0 <= levels <= MAX_LEVELS:
        raise PsamError("usage byte", f"diversification levels must be 0..3, got {levels}")
    return levels << 5 | key_type


def split_usage(usage: int) -> tuple[int, int]:
    """``(levels, type code)`` of a usage byte; the type code may name no :class:`KeyType`."""
    return usage >> 5, usage & 0x1F


class KeyAlgorithm(IntEnum):
    """The algorithm byte of a key record (Part 9 §6.2; ``03`` SM4 is sbkcard's, see above)."""

    TDES = 0x00
    DES = 0x01
    SSF33 = 0x02
    SM4 = 0x03

    @property
    def key_length(self) -> int:
        """The key length the byte implies: 8 for DES, 16 otherwise."""
        return 8 if self is KeyAlgorithm.DES else 16

    @property
    def cipher(self) -> Algorithm:
        """The block cipher of :mod:`sbkcard.keys` (3DES and DES are both ``DES``)."""
        return _CIPHERS[self]

    @classmethod
    def for_key(cls, cipher: Algorithm, key: bytes) -> KeyAlgorithm:
        """The algorithm byte for ``key`` of ``cipher`` (DES: by the key's length)."""
        if cipher is Algorithm.DES:
            if len(key) not in (8, 16):
                raise PsamError("key record", f"a DES key is 8 or 16 bytes, got {len(key)}")
            return cls.DES if len(key) == 8 else cls.TDES
        return cls.SM4 if cipher is Algorithm.SM4 else cls.SSF33


_CIPHERS = {
    KeyAlgorithm.TDES: Algorithm.DES,
    KeyAlgorithm.DES: Algorithm.DES,
    KeyAlgorithm.SSF33: Algorithm.SSF33,
    KeyAlgorithm.SM4: Algorithm.SM4,
}


class Authority(Enum):
    """Who controls a range of key IDs, and the key file that holds them (Part 9 §5.8–5.10)."""

    NATIONAL = 1
    PROVINCIAL = 2
    CITY = 3

    @property
    def key_file(self) -> int:
        """FID of the authority's key file: ``0011``, ``0012``, ``0013``."""
        return 0x0010 + self.value

    @property
    def info_file(self) -> int:
        """FID of the authority's application information file: ``001A``, ``001B``, ``001C``."""
        return 0x0019 + self.value

    @property
    def auth_kid(self) -> int:
        """The PSAM key (KID-01/02/03) whose external authentication opens the key file."""
        return self.value

    @property
    def label(self) -> str:
        """国家级 / 省级 / 地市级."""
        return ("国家级 national", "省级 provincial", "地市级 city")[self.value - 1]

    @classmethod
    def of_key_file(cls, fid: int) -> Authority | None:
        """The authority owning key file ``fid``, or ``None`` if ``fid`` is no key file."""
        for authority in cls:
            if authority.key_file == fid:
                return authority
        return None


class KeyHolder(Enum):
    """Whose keys a range of IDs holds (the rows of Part 9 table A1)."""

    PSAM = "PSAM卡自用密钥 the PSAM's own keys"
    DDF = "针对用户卡DDF下的密钥 keys of the user card's DDF"
    APPLICATION = "针对用户卡各应用下的密钥 keys of the user card's applications"


@dataclass(frozen=True)
class IdRange:
    """One cell of Part 9 table A1: key IDs ``first``–``last`` of one authority."""

    first: int
    last: int
    authority: Authority
    holder: KeyHolder

    def __contains__(self, key_id: object) -> bool:
        return isinstance(key_id, int) and self.first <= key_id <= self.last


KEY_ID_ALLOCATION: tuple[IdRange, ...] = (
    IdRange(0x00, 0x07, Authority.NATIONAL, KeyHolder.PSAM),
    IdRange(0x08, 0x0F, Authority.NATIONAL, KeyHolder.DDF),
    IdRange(0x10, 0x17, Authority.PROVINCIAL, KeyHolder.DDF),
    IdRange(0x18, 0x1F, Authority.CITY, KeyHolder.DDF),
    IdRange(0x20, 0x3F, Authority.NATIONAL, KeyHolder.APPLICATION),
    IdRange(0x40, 0x7F, Authority.PROVINCIAL, KeyHolder.APPLICATION),
    IdRange(0x80, 0xBF, Authority.CITY, KeyHolder.APPLICATION),
)
"""Part 9 table A1; ``C0``–``FF`` are reserved and belong to no one."""


def allocation_of(key_id: int) -> IdRange | None:
    """The range holding ``key_id``, or ``None`` for the reserved IDs ``C0``–``FF``."""
    for cell in KEY_ID_ALLOCATION:
        if key_id in cell:
            return cell
    return None


@dataclass(frozen=True)
class KeyRecord:
    """One key record (Part 9 §6.1): type, levels, identifier or version, algorithm, key.

    ``repr`` never shows the key, only its check value.
    """

    key_type: KeyType
    levels: int
    ident: int
    algorithm: KeyAlgorithm
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.levels <= MAX_LEVELS:
            raise PsamError("key record", f"diversification levels must be 0..3, got {self.levels}")
        if not 0 <= self.ident <= 0xFF:
            raise PsamError("key record", f"identifier/version must be one byte, got {self.ident}")
        if len(self.key) != self.algorithm.key_length:
            raise PsamError(
                "key record",
                f"algorithm {self.algorithm.value:02X} ({self.algorithm.name}) takes a "
                f"{self.algorithm.key_length}-byte key, got {len(self.key)} bytes",
            )

    @property
    def usage(self) -> int:
        """The usage byte: levels in b8–b6, type in b5–b1."""
        return usage_byte(self.key_type, self.levels)

    def to_bytes(self) -> bytes:
        """The stored record, also the CREATE KEY plaintext (Part 9 §9.5.1)."""
        return bytes((self.usage, self.ident, 0, self.algorithm)) + bytes(4) + self.key

    def change_data(self) -> bytes:
        """The CHANGE KEY plaintext: usage ‖ id/version ‖ ``00`` ‖ key (Part 9 §9.6.1)."""
        return bytes((self.usage, self.ident, 0)) + self.key

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyRecord:
        """Decode a stored record or CREATE KEY plaintext; :class:`PsamError` if malformed."""
        if len(data) < RECORD_HEADER_LENGTH:
            raise PsamError(
                "key record", f"needs {RECORD_HEADER_LENGTH} header bytes, got {len(data)}"
            )
        usage, ident, rfu, alg = data[0], data[1], data[2], data[3]
        if rfu or any(data[4:RECORD_HEADER_LENGTH]):
            raise PsamError("key record", "RFU and rights bytes must be 00")
        try:
            algorithm = KeyAlgorithm(alg)
        except ValueError:
            raise PsamError("key record", f"unknown algorithm byte {alg:02X}") from None
        levels, code = split_usage(usage)
        return cls(_key_type(code), levels, ident, algorithm, bytes(data[RECORD_HEADER_LENGTH:]))

    @classmethod
    def from_change_data(cls, data: bytes, algorithm: KeyAlgorithm) -> KeyRecord:
        """Decode a CHANGE KEY plaintext for a key of ``algorithm`` (which it keeps)."""
        if len(data) != 3 + algorithm.key_length or data[2]:
            raise PsamError(
                "CHANGE KEY data",
                f"expected usage, id, 00 and a {algorithm.key_length}-byte key",
            )
        levels, code = split_usage(data[0])
        return cls(_key_type(code), levels, data[1], algorithm, bytes(data[3:]))

    @property
    def check_value(self) -> str:
        """The key's KCV in hex (``"n/a"`` for SSF33, which has no implementation)."""
        try:
            return kcv(self.key, self.algorithm.cipher).hex().upper()
        except CryptoError:
            return "n/a"

    def __repr__(self) -> str:
        return (
            f"KeyRecord({self.key_type.name}, levels={self.levels}, id=0x{self.ident:02X}, "
            f"{self.algorithm.name}, kcv={self.check_value})"
        )


def _key_type(code: int) -> KeyType:
    try:
        return KeyType(code)
    except ValueError:
        raise PsamError("key record", f"usage names no key type ({code})") from None
