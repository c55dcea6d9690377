"""What the user card keeps in non-volatile memory: file headers, keys, PINs, counters.

These are the COS's own formats (the national standard leaves file creation and key
loading to the COS, Part 10 §5.2); the same bytes are the data of the personalisation
commands CREATE FILE and WRITE KEY, so a card personalised by APDUs and one built
directly by :func:`~sbkcard.applet_model.user_card.personalise.user_card_content`
hold identical storage.

Storage keys (a flat map, see :mod:`sbkcard.applet_model.storage`); ``<path>`` is a
file path such as ``MF``, ``SSSE``, ``SSSE/EF05``, ``SSSE/DF04/EF08``, a DF path the
path of a DF:

==============================  ====================================================
``cos:atr``                     the ATR (set at COS activation, Part 10 §5.1.2)
``cos:life``                    ``00`` operational, ``FF`` card blocked (CARD BLOCK)
``cos:range-refusal``           present on a COS without READ RECORD's range modes:
                                the status word it answers them with (2 bytes)
``fs:<path>``                   the file's header (:class:`EfHeader`/:class:`DfHeader`)
``<path>``                      an EF's content: transparent bytes; variable records
                                as their simple-TLV encodings concatenated; fixed and
                                cyclic records concatenated (cyclic: newest first);
                                the purse's 20 bytes (S2 §7)
``key:<df>/<KID>.<VER>``        a key record (:class:`KeyRecord`), KID and version hex
``ctr:<df>/<KID>``              the key's tries left (1 byte; keys with a counter)
``pin:<df>``                    the PIN record: tries allowed ‖ PIN (``cn``, may be empty)
``ctr:<df>/PIN``                the PIN's tries left
``blk:<df>``                    ``01``: the application is blocked (APPLICATION BLOCK)
``proof:<df>``                  the last purse transaction's proof: type ‖ seq(2) ‖
                                MAC(4) ‖ TAC(4) (GET TRANSACTION PROOF)
==============================  ====================================================

Header formats (also the data of ``80 E0`` CREATE FILE):

- EF, 10 bytes: structure (``01`` transparent, ``02`` linear fixed, ``03`` linear
  variable, ``04`` cyclic, ``05`` purse) ‖ FID (2, ``0000`` none) ‖ SFI (``00`` none)
  ‖ size (2: bytes; fixed and cyclic files: record length ‖ record count) ‖ read
  condition (2) ‖ write condition (2).
- DF: ``38`` ‖ FID (2) ‖ DIR SFI (``00`` none) ‖ MAC key KID ‖ block condition (2) ‖
  name length ‖ name (AID) ‖ discretionary-data length ‖ FCI ``9F0C`` content.
- A condition is rule (``00`` free, ``01`` PIN, ``02`` key, ``03`` PIN or key, ``04``
  PIN and key, ``FF`` never) ‖ KID (``00`` when no key is named).

Key record (also, after the version byte, the plaintext of WRITE KEY): version ‖ role
(:class:`Role`) ‖ algorithm (FCI tag-86 code) ‖ tries allowed (``00``: no counter) ‖
key (8 or 16 bytes).

Key identifiers (Part 5 table 14): b8 = 1 names a key of the current DF, b8 = 0 a key
of the application environment (the SSSE; in the MF, the MF). The standard numbers
most keys (:data:`sbkcard.keys.hierarchy.CARD_KEYS`); the COS numbers the rest
(:data:`COS_KIDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from sbkcard.applet_model.ssse import PURSE_SIZE
from sbkcard.applet_model.tree import Access, EfShape, Rule, Structure, df_path_name
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import KeySpec

__all__ = [
    "COS_KIDS",
    "LIFE_BLOCKED",
    "LIFE_OPERATIONAL",
    "MF",
    "Condition",
    "DfHeader",
    "EfHeader",
    "HeaderError",
    "KeyRecord",
    "Role",
    "block_key",
    "body_key",
    "counter_key",
    "decode_header",
    "header_key",
    "key_kid",
    "key_record_key",
    "parent",
    "pin_key",
    "proof_key",
    "role_of",
]

MF = "MF"
MF_FID = 0x3F00
LIFE_OPERATIONAL = b"\x00"
LIFE_BLOCKED = b"\xff"
DF_TYPE = 0x38

COS_KIDS = {"MKMF": 0x00, "MKSSSE": 0x01, "DPK": 0x90, "DLK": 0x91, "DTK": 0x92, "DSK": 0x93}
"""Key identifiers the COS gives to keys the standard does not number (SPEC §4.2)."""


class HeaderError(ValueError):
    """Bytes that are not a valid file header or key record (the card answers ``6A80``)."""


class Role(IntEnum):
    """What a key may be used for on this card (Part 6 table 3's key classes)."""

    MASTER = 0x01  # creates files and loads keys in its DF (Part 4 §5.2–5.3)
    AUTH = 0x02  # external authentication (RK, UK, PUK, BK, LK, DSK)
    INTERNAL = 0x03  # internal authentication (IRK)
    MAC = 0x04  # maintenance MAC and encryption (STK)
    PURCHASE = 0x05  # DPK → SESPK
    LOAD = 0x06  # DLK → SESLK
    TAC = 0x07  # DTK
    UNBLOCK = 0x08  # external authentication that opens PIN unblock/reload (PUK)


_ROLE_PREFIXES = (
    ("MK", Role.MASTER),
    ("IRK", Role.INTERNAL),
    ("STK", Role.MAC),
    ("DPK", Role.PURCHASE),
    ("DLK", Role.LOAD),
    ("DTK", Role.TAC),
    ("PUK", Role.UNBLOCK),
)


def role_of(spec: KeySpec) -> Role:
    """The role of a key of the key table, from its class in Part 6 table 3."""
    for prefix, role in _ROLE_PREFIXES:
        if spec.name.startswith(prefix):
            return role
    return Role.AUTH


def key_kid(spec: KeySpec) -> int:
    """The key identifier of ``spec`` on this card (the standard's, else :data:`COS_KIDS`)."""
    if spec.card_kid is not None:
        return spec.card_kid
    return COS_KIDS[spec.name]


# -- storage keys ------------------------------------------------------------------------


def parent(path: str) -> str:
    """The DF holding ``path`` (``MF`` for the SSSE)."""
    head, sep, _ = path.rpartition("/")
    return head if sep else MF


def header_key(path: str) -> str:
    """Storage key of a file's header."""
    return f"fs:{path}"


def body_key(path: str) -> str:
    """Storage key of an EF's content."""
    return path


def key_record_key(df: str, kid: int, version: int) -> str:
    """Storage key of a key record."""
    return f"key:{df}/{kid:02X}.{version:02X}"


def counter_key(df: str, kid: int | None) -> str:
    """Storage key of a key's (or, with ``None``, the PIN's) tries-left counter."""
    return f"ctr:{df}/PIN" if kid is None else f"ctr:{df}/{kid:02X}"


def pin_key(df: str) -> str:
    """Storage key of a DF's PIN record."""
    return f"pin:{df}"


def block_key(df: str) -> str:
    """Storage key of a DF's application-blocked flag."""
    return f"blk:{df}"


def proof_key(df: str) -> str:
    """Storage key of the last purse transaction's MAC and TAC."""
    return f"proof:{df}"


# -- conditions ----------------------------------------------------------------------------

_RULE_CODES = {
    Rule.FREE: 0x00,
    Rule.PIN: 0x01,
    Rule.KEY: 0x02,
    Rule.PIN_OR_KEY: 0x03,
    Rule.PIN_AND_KEY: 0x04,
    Rule.NEVER: 0xFF,
}
_RULES = {code: rule for rule, code in _RULE_CODES.items()}


@dataclass(frozen=True, slots=True)
class Condition:
    """An access condition as the card stores it: a rule and a key identifier."""

    rule: Rule
    kid: int = 0

    @classmethod
    def of(cls, access: Access, kids: dict[str, int]) -> Condition:
        """The stored form of a declared :class:`~sbkcard.applet_model.tree.Access`."""
        return cls(access.rule, 0 if access.key is None else kids[access.key])

    def to_bytes(self) -> bytes:
        return bytes((_RULE_CODES[self.rule], self.kid))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Condition:
        rule = _RULES.get(raw[0])
        if rule is None:
            raise HeaderError(f"access rule {raw[0]:02X}")
        if not rule.needs_key and raw[1]:
            raise HeaderError(f"access rule {raw[0]:02X} names no key, got KID {raw[1]:02X}")
        return cls(rule, raw[1])


# -- headers --------------------------------------------------------------------------------

_STRUCTURE_CODES = {
    Structure.TRANSPARENT: 0x01,
    Structure.LINEAR_FIXED: 0x02,
    Structure.LINEAR_VARIABLE: 0x03,
    Structure.CYCLIC: 0x04,
    Structure.PURSE: 0x05,
}
_STRUCTURES = {code: s for s, code in _STRUCTURE_CODES.items()}


@dataclass(frozen=True, slots=True)
class EfHeader(EfShape):
    """An EF's header (see the module docstring for the bytes)."""

    structure: Structure
    fid: int | None
    sfi: int | None
    size: int
    record_length: int
    records: int
    read: Condition
    write: Condition

    def initial_body(self) -> bytes:
        """The content of the file just after CREATE FILE."""
        if self.structure in (Structure.LINEAR_VARIABLE, Structure.CYCLIC):
            return b""
        if self.structure is Structure.PURSE:
            return bytes(PURSE_SIZE - 2) + b"\x01\x01"
        return bytes(self.capacity)

    def to_bytes(self) -> bytes:
        if self.structure.fixed:
            size = bytes((self.record_length, self.records))
        else:
            size = self.size.to_bytes(2, "big")
        return (
            bytes((_STRUCTURE_CODES[self.structure],))
            + (self.fid or 0).to_bytes(2, "big")
            + bytes((self.sfi or 0,))
            + size
            + self.read.to_bytes()
            + self.write.to_bytes()
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> EfHeader:
        if len(raw) != 10:
            raise HeaderError(f"an EF header is 10 bytes, got {len(raw)}")
        structure = _STRUCTURES.get(raw[0])
        if structure is None:
            raise HeaderError(f"file structure {raw[0]:02X}")
        fid = int.from_bytes(raw[1:3], "big") or None
        sfi = raw[3] or None
        if sfi is not None and not 1 <= sfi <= 30:
            raise HeaderError(f"SFI {sfi:02X} is outside 01..1E")
        if fid in (MF_FID, 0xFFFF):
            raise HeaderError(f"FID {fid:04X} is reserved")
        if structure.fixed:
            length, records, size = raw[4], raw[5], 0
            if not (length and records):
                raise HeaderError("fixed and cyclic files need a record length and count")
        else:
            length, records, size = 0, 0, int.from_bytes(raw[4:6], "big")
            if structure is Structure.PURSE and size != PURSE_SIZE:
                raise HeaderError(f"the purse is {PURSE_SIZE} bytes, got {size}")
        if structure is Structure.PURSE and (fid is not None or sfi is not None):
            raise HeaderError("the purse is COS-internal: no FID, no SFI")
        if structure is not Structure.PURSE and fid is None and sfi is None:
            raise HeaderError("an EF needs a FID or an SFI")
        return cls(
            structure,
            fid,
            sfi,
            size,
            length,
            records,
            Condition.from_bytes(raw[6:8]),
            Condition.from_bytes(raw[8:10]),
        )


@dataclass(frozen=True, slots=True)
class DfHeader:
    """A DF's header: identifiers, DF name, MAC key, block condition, FCI data."""

    fid: int | None
    aid: bytes
    dir_sfi: int | None
    mac_kid: int
    block: Condition
    discretionary: bytes = b""

    @property
    def name(self) -> str:
        """Path component, as :attr:`sbkcard.applet_model.tree.DF.name`."""
        return df_path_name(self.fid, self.aid)

    def fci(self) -> bytes:
        """The FCI returned by SELECT (Part 5 tables 36–38; SPEC §1.1)."""
        if not self.aid:
            return b""
        body = bytes((0x84, len(self.aid))) + self.aid
        proprietary = b""
        if self.dir_sfi is not None:
            proprietary += bytes((0x88, 0x01, self.dir_sfi))
        if self.discretionary:
            proprietary += b"\x9f\x0c" + bytes((len(self.discretionary),)) + self.discretionary
        if proprietary:
            body += bytes((0xA5, len(proprietary))) + proprietary
        return bytes((0x6F, len(body))) + body

    def to_bytes(self) -> bytes:
        return (
            bytes((DF_TYPE,))
            + (self.fid or 0).to_bytes(2, "big")
            + bytes((self.dir_sfi or 0, self.mac_kid))
            + self.block.to_bytes()
            + bytes((len(self.aid),))
            + self.aid
            + bytes((len(self.discretionary),))
            + self.discretionary
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> DfHeader:
        if len(raw) < 9 or raw[0] != DF_TYPE:
            raise HeaderError("a DF header starts with 38 and is at least 9 bytes")
        fid = int.from_bytes(raw[1:3], "big") or None
        dir_sfi = raw[3] or None
        n = raw[7]
        if n and not 5 <= n <= 16:
            raise HeaderError(f"a DF name is 5 to 16 bytes, got {n}")
        if len(raw) < 9 + n:
            raise HeaderError("DF header truncated in the name")
        aid = raw[8 : 8 + n]
        m = raw[8 + n]
        if len(raw) != 9 + n + m:
            raise HeaderError("DF header length disagrees with its discretionary data")
        if fid is None and not aid:
            raise HeaderError("a DF needs a FID or a name")
        if dir_sfi is not None and not 1 <= dir_sfi <= 30:
            raise HeaderError(f"directory SFI {dir_sfi:02X} is outside 01..1E")
        if n + m > 0x60:
            raise HeaderError("FCI data too long")
        return cls(fid, aid, dir_sfi, raw[4], Condition.from_bytes(raw[5:7]), raw[9 + n :])


def decode_header(raw: bytes) -> EfHeader | DfHeader:
    """A stored header of either kind."""
    if raw[:1] == bytes((DF_TYPE,)):
        return DfHeader.from_bytes(raw)
    return EfHeader.from_bytes(raw)


# -- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as the card stores it (never printed: ``repr`` shows no key bytes)."""

    version: int
    role: Role
    algorithm: Algorithm
    tries: int
    key: bytes

    def __repr__(self) -> str:
        return (
            f"KeyRecord(version={self.version}, role={self.role.name}, "
            f"algorithm={self.algorithm.name}, tries={self.tries}, key=<{len(self.key)} bytes>)"
        )

    def to_bytes(self) -> bytes:
        return bytes((self.version, self.role, self.algorithm.value, self.tries)) + self.key

    @classmethod
    def from_bytes(cls, raw: bytes) -> KeyRecord:
        if len(raw) not in (12, 20):
            raise HeaderError(f"a key record is 12 or 20 bytes, got {len(raw)}")
        try:
            role = Role(raw[1])
            algorithm = Algorithm(raw[2])
        except ValueError:
            raise HeaderError(f"key role {raw[1]:02X} / algorithm {raw[2]:02X}") from None
        if algorithm is Algorithm.SSF33:
            raise HeaderError("SSF33 keys are not supported")
        key = raw[4:]
        if algorithm is Algorithm.SM4 and len(key) != 16:
            raise HeaderError("SM4 keys are 16 bytes")
        if not 1 <= raw[0] <= 0xFE or raw[3] > 0x0F:
            raise HeaderError(f"key version {raw[0]:02X} / tries {raw[3]:02X}")
        return cls(raw[0], role, algorithm, raw[3], key)
