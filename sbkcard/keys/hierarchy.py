"""The user card's keys as data, and the national key hierarchy (Part 4 §5; Part 9 §6–§7).

:data:`CARD_KEYS` declares every key of Part 9 table B1 once: where it lives on the card (DF
and key identifier, b8 = 1 for a DF-local key, Part 5 table 14), how a PSAM holds it
(usage byte and key identifier, Part 9 appendix B), its HSM logical address (S3 appendix
B: B.1 ministry, B.2 provincial), how many versions ("组数") it has and its retry counter.

Sources per column:

- ``card_kid``: Part 9 table B1 (RKSSSE = 0A from a real 3.00 card's trace). Keys the
  national text does not number (UK6–UKB DF01, UK6 DF02, UK4–UK8 DF03, RK1 DF01/DF02 and
  the DF07 keys) get the next free DF-local identifiers in table order; they are marked
  ``inferred``.
- ``psam_usage``: high 3 bits = diversification levels held at the PSAM, low 5 bits =
  key type (Part 9 §6.2). Ministry keys as in table B1 (``67`` three levels, ``27``/``26``
  one level); keys under provincial control (table B.2) two levels, type 8 (``48``, as
  in the real trace ``BF DE 48 5D``); B.1 keys missing from table B1 follow
  their kind (RK ``67``, UK ``27``, STK ``26``).
- ``DPK`` has three versions (PSAM ids 01–03, HSM 017F, 0199 and 019C), each in three
  groups; its row gives version 1.
- ``retries``: the standard leaves the counts to the issuer (Part 7 §6.6, §13); keys used
  for external authentication, PIN unblock and the master keys get 3 here, keys without a
  counter (internal authentication, MAC, lock and purse keys) 0.

Every key has a root at the top of the hierarchy (level 3, "national"): national root →
province factor → provincial root (level 2) → city factor → city root (level 1) → card
factor → card key (level 0). Keys that the standard puts under provincial control are
modelled with a notional national root too: a province's own root is then simply
``diversify(root, [province_factor(region)])``.

The card master key (MF) and the SSSE master key are included as ``MKMF`` and
``MKSSSE``: Part 10 §5.2 says the issuer defines them, that they replace the batch-wide
transport key during pre-personalisation (loaded as ciphertext + MAC under a temporary
master key, the card master key last) and that after replacement they are one per card;
their key identifiers are COS-specific (``card_kid`` None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

from sbkcard.keys.check_value import kcv
from sbkcard.keys.ciphers import Algorithm, check_key
from sbkcard.keys.derivation import diversify, diversify_batch
from sbkcard.keys.errors import KeyHierarchyError, UnknownKeyError
from sbkcard.keys.factors import card_factor, city_factor, factors_for, province_factor
from sbkcard.keys.hashing import sm3

__all__ = [
    "ALIASES",
    "CARD_KEYS",
    "DEMO_LABEL",
    "PSAM_KEY_IDS",
    "KeySet",
    "KeySpec",
    "Level",
    "card_key",
    "demo_keyset",
    "derive_batch",
    "derive_card_keys",
    "level_key",
]

DF_LOCAL = 0x80


class Level(IntEnum):
    """Diversification levels still to apply below a key (the PSAM usage byte's b8–b6)."""

    CARD = 0
    CITY = 1
    PROVINCE = 2
    NATIONAL = 3


@dataclass(frozen=True)
class KeySpec:
    """One key of the user card (Part 9 table B1).

    ``card_kid`` is the P2 of EXTERNAL AUTHENTICATE (None for the purse keys, addressed by
    key index, and the COS-specific master keys); ``hsm_address`` is the logical address
    of version 1, the other versions following it; ``versions`` counts the key's versions
    ("组数"); ``retries`` is the retry counter, 0 for a key that has none.
    """

    name: str
    card_kid: int | None
    df: str
    psam_usage: int | None
    psam_id: int | None
    hsm_address: str | None
    versions: int
    retries: int
    purpose: str = ""
    inferred: bool = False

    @property
    def local(self) -> bool:
        """True for a DF-local key (key identifier b8 = 1, Part 5 table 14)."""
        return self.card_kid is not None and bool(self.card_kid & DF_LOCAL)

    @property
    def psam_levels(self) -> int | None:
        """Diversification levels the PSAM applies (usage b8–b6), e.g. 3 for ``67``."""
        return None if self.psam_usage is None else self.psam_usage >> 5

    @property
    def key_type(self) -> int | None:
        """Key type of the PSAM usage byte (b5–b1, Part 9 §6.3), e.g. 7 for ``67``."""
        return None if self.psam_usage is None else self.psam_usage & 0x1F

    def length(self, algorithm: Algorithm) -> int:
        """Key length: STK keys are 8 bytes in the DES environment, all others 16."""
        return 8 if algorithm is Algorithm.DES and self.name.startswith("STK") else 16


def _key(
    name: str,
    purpose: str,
    kid: int | None,
    df: str,
    usage: int | None,
    psam_id: int | None,
    hsm: str | None,
    versions: int,
    retries: int,
    inferred: bool = False,
) -> KeySpec:
    return KeySpec(name, kid, df, usage, psam_id, hsm, versions, retries, purpose, inferred)


CARD_KEYS: tuple[KeySpec, ...] = (
    # master keys (Part 4 §5.2–5.3; Part 10 §5.2)
    _key("MKMF", "卡片主控密钥", None, "MF", None, None, None, 1, 3),
    _key("MKSSSE", "社保环境主控密钥", None, "SSSE", None, None, None, 1, 3),
    # SSSE: issuer keys (Part 9 table B1, S3 B.1/B.2)
    _key("IRK", "内部认证 (鉴别发卡方)", 0x00, "SSSE", 0x67, 0x08, "0170", 3, 0),
    _key("STKSSSE", "发卡方应用维护", 0x02, "SSSE", 0x26, 0x09, "0173", 1, 0),
    _key("UKSSSE", "发卡方和个人基本信息更新", 0x04, "SSSE", 0x48, 0x12, "0094", 3, 3),
    _key("BK", "卡片锁定", 0x05, "SSSE", 0x48, 0x11, "0091", 1, 0),
    _key("PUK", "个人密码解锁", 0x06, "SSSE", 0x48, 0x10, "0090", 1, 3),
    _key("RKSSSE", "指纹、相片 (3.0: EF06) 读取", 0x0A, "SSSE", 0x67, 0x0A, "004C", 3, 3),
    # DF01 公共应用
    _key("STKDF01", "公共应用维护", 0x82, "DF01", 0x26, 0x20, "0174", 1, 0),
    _key("UK1DF01", "户籍信息更新", 0x83, "DF01", 0x48, 0x42, "0097", 3, 3),
    _key("UK2DF01", "个人状况信息更新", 0x84, "DF01", 0x48, 0x43, "009A", 3, 3),
    _key("UK3DF01", "婚姻状况信息更新", 0x85, "DF01", 0x27, 0x24, "0176", 3, 3),
    _key("UK4DF01", "通讯信息更新", 0x86, "DF01", 0x27, 0x25, "0179", 3, 3),
    _key("UK5DF01", "国家/地区及政治面貌信息更新", 0x87, "DF01", 0x48, 0x44, "009D", 3, 3),
    _key("UK6DF01", "学历信息更新", 0x88, "DF01", 0x27, 0x2F, "0052", 3, 3, True),
    _key("UK7DF01", "预留信息 1 更新", 0x89, "DF01", 0x27, 0x30, "0055", 3, 3, True),
    _key("UK8DF01", "预留信息 2 更新", 0x8A, "DF01", 0x27, 0x31, "0058", 3, 3, True),
    _key("UK9DF01", "预留信息 3 更新", 0x8B, "DF01", 0x27, 0x32, "005B", 3, 3, True),
    _key("UKADF01", "预留信息 4 更新", 0x8C, "DF01", 0x27, 0x33, "005E", 3, 3, True),
    _key("UKBDF01", "预留信息 5 更新", 0x8D, "DF01", 0x27, 0x34, "0061", 3, 3, True),
    _key("RK1DF01", "公共应用信息读取", 0x8E, "DF01", 0x67, 0x2E, "004F", 3, 3, True),
    # DF02 就业与失业
    _key("STKDF02", "就业与失业应用维护", 0x82, "DF02", 0x26, 0x21, "0185", 1, 0),
    _key("UK1DF02", "职业和专业技能信息更新", 0x83, "DF02", 0x27, 0x26, "0187", 3, 3),
    _key("UK2DF02", "就业状况信息更新", 0x84, "DF02", 0x48, 0x45, "00A0", 3, 3),
    _key("UK3DF02", "就业记录更新", 0x85, "DF02", 0x48, 0x46, "00A3", 3, 3),
    _key("UK4DF02", "就业创业证信息更新", 0x86, "DF02", 0x27, 0x27, "018A", 3, 3),
    _key("UK5DF02", "就业援助对象认定信息更新", 0x87, "DF02", 0x27, 0x28, "018D", 3, 3),
    _key("UK6DF02", "就业扶持政策享受信息更新", 0x88, "DF02", 0x27, 0x36, "0067", 3, 3, True),
    _key("RK1DF02", "就业与失业信息读取", 0x89, "DF02", 0x67, 0x35, "0064", 3, 3, True),
    # DF03 社会保险 1
    _key("STKDF03", "社会保险 1 应用维护", 0x82, "DF03", 0x26, 0x22, "0186", 1, 0),
    _key("LKDF03", "社会保险 1 应用锁定", 0x83, "DF03", 0x48, 0x40, "0092", 1, 0),
    _key("RK1DF03", "养老、工伤、生育保险信息读取", 0x84, "DF03", 0x67, 0x2B, "0193", 3, 3),
    _key("RK2DF03", "失业保险信息读取", 0x85, "DF03", 0x67, 0x2C, "0196", 3, 3),
    _key("UK1DF03", "失业保险信息更新", 0x86, "DF03", 0x48, 0x47, "00A6", 3, 3),
    _key("UK2DF03", "劳动能力鉴定信息更新", 0x87, "DF03", 0x27, 0x29, "0190", 3, 3),
    _key("UK3DF03", "养老保险信息更新", 0x88, "DF03", 0x48, 0x48, "00A9", 3, 3),
    _key("UK4DF03", "工伤保险信息更新", 0x89, "DF03", 0x27, 0x37, "006A", 3, 3, True),
    _key("UK5DF03", "生育保险信息更新", 0x8A, "DF03", 0x27, 0x38, "006D", 3, 3, True),
    _key("UK6DF03", "工伤认定信息更新", 0x8B, "DF03", 0x27, 0x39, "0070", 3, 3, True),
    _key("UK7DF03", "供养亲属信息更新", 0x8C, "DF03", 0x27, 0x3A, "0073", 3, 3, True),
    _key("UK8DF03", "参保凭证信息更新", 0x8D, "DF03", 0x27, 0x3B, "0076", 3, 3, True),
    # DF04 社会保险 2 (medical)
    _key("STKDF04", "社会保险 2 应用维护", 0x82, "DF04", 0x26, 0x23, "0175", 1, 0),
    _key("LKDF04", "社会保险 2 应用锁定", 0x83, "DF04", 0x48, 0x41, "0093", 1, 0),
    _key("RK1DF04", "医疗保险和医疗费用结算信息读取", 0x84, "DF04", 0x67, 0x2D, "0182", 3, 3),
    _key("UK1DF04", "医疗、工伤、生育保险基本信息更新", 0x85, "DF04", 0x48, 0x49, "00AC", 3, 3),
    _key("UK2DF04", "医疗保险临时脱网结算信息更新", 0x86, "DF04", 0x27, 0x2A, "017C", 3, 3),
    _key("DPK", "医疗消费 (SESPK)", None, "DF04", 0x22, 0x01, "017F", 3, 0),
    _key("DLK", "账户划入 (SESLK)", None, "DF04", 0x48, 0x4B, "00B2", 3, 0),
    _key("DTK", "TAC", None, "DF04", 0x48, 0x4C, "00B5", 3, 0),
    _key("DSK", "更新年度起始日期", None, "DF04", 0x48, 0x4A, "00AF", 3, 0),
    # DF07 人事人才
    _key("STKDF07", "人事与人才应用维护", 0x82, "DF07", 0x26, 0x3C, "0079", 1, 0, True),
    _key("RK1DF07", "荣誉信息读取", 0x83, "DF07", 0x67, 0x3D, "007A", 3, 3, True),
    _key("UK1DF07", "荣誉信息更新", 0x84, "DF07", 0x27, 0x3E, "007D", 3, 3, True),
    _key("RK2DF07", "专家信息读取", 0x85, "DF07", 0x67, 0x3F, "0080", 3, 3, True),
    _key("UK2DF07", "专家信息更新", 0x86, "DF07", 0x27, 0xB0, "0083", 3, 3, True),
    _key("RK3DF07", "军队转业干部信息读取", 0x87, "DF07", 0x67, 0xB1, "0086", 3, 3, True),
    _key("UK3DF07", "军队转业干部信息更新", 0x88, "DF07", 0x27, 0xB2, "0089", 3, 3, True),
)
"""Every key of the user card, in the order of the standard's tables."""

ALIASES: Mapping[str, str] = MappingProxyType({"STK": "STKSSSE", "UKMF": "UKSSSE"})
"""Other names the standard uses for the same key."""

_BY_NAME = {spec.name: spec for spec in CARD_KEYS}

PSAM_KEY_IDS: Mapping[tuple[str, Level], range] = MappingProxyType(
    {
        ("psam", Level.NATIONAL): range(0x00, 0x08),
        ("ddf", Level.NATIONAL): range(0x08, 0x10),
        ("ddf", Level.PROVINCE): range(0x10, 0x18),
        ("ddf", Level.CITY): range(0x18, 0x20),
        ("application", Level.NATIONAL): range(0x20, 0x40),
        ("application", Level.PROVINCE): range(0x40, 0x80),
        ("application", Level.CITY): range(0x80, 0xC0),
    }
)
"""PSAM key-identifier allocation (Part 9 appendix A); ``C0``–``FF`` are reserved."""


def card_key(name: str) -> KeySpec:
    """The :class:`KeySpec` called ``name`` (aliases such as ``"STK"`` accepted)."""
    spec = _BY_NAME.get(ALIASES.get(name, name))
    if spec is None:
        raise UnknownKeyError(f"key {name!r} is not in the key table (Part 9 table B1)")
    return spec


@dataclass(repr=False)
class KeySet:
    """The issuer's top-level roots for one algorithm, one per key name.

    Keys are never shown: ``repr`` lists names and KCVs only.
    """

    algorithm: Algorithm
    roots: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, key in self.roots.items():
            spec = card_key(name)
            if spec.name != name:
                raise KeyHierarchyError(f"key set: use {spec.name!r}, not the alias {name!r}")
            check_key(key, self.algorithm, what=f"root {name}")
            if len(key) != spec.length(self.algorithm):
                raise KeyHierarchyError(
                    f"root {name}: {self.algorithm.label} keys of this kind are "
                    f"{spec.length(self.algorithm)} bytes, got {len(key)}"
                )

    def root(self, name: str) -> bytes:
        """The root called ``name`` (aliases accepted)."""
        spec = card_key(name)
        try:
            return self.roots[spec.name]
        except KeyError:
            raise UnknownKeyError(f"key set has no root for {spec.name}") from None

    def kcvs(self) -> dict[str, str]:
        """Key check values of every root, as 6 upper-case hex characters."""
        return {name: kcv(key, self.algorithm).hex().upper() for name, key in self.roots.items()}

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}:kcv={value}" for name, value in self.kcvs().items())
        return f"KeySet(algorithm={self.algorithm.name}, roots={{{shown}}})"

    __str__ = __repr__


DEMO_LABEL = "sbkcard published TEST KEY, never for real cards"


def demo_keyset(algorithm: Algorithm) -> KeySet:
    """A deterministic key set of **published TEST KEYS** for simulators and tests.

    Each root is the leading bytes of ``SM3("<DEMO_LABEL>/<algorithm>/<name>")``. Anyone
    can recompute them: they protect nothing and must never be loaded into a real card.
    """
    roots = {
        spec.name: sm3(f"{DEMO_LABEL}/{algorithm.name}/{spec.name}".encode())[
            : spec.length(algorithm)
        ]
        for spec in CARD_KEYS
    }
    return KeySet(algorithm, roots)


def level_key(keyset: KeySet, name: str, region: str, level: int) -> bytes:
    """The key ``name`` as held at diversification depth ``level`` for ``region``.

    3 is the root itself (a PSAM with a national root), 2 the provincial root, 1 the
    city root (the PSAM then only applies the card factor).
    """
    if level not in (Level.NATIONAL, Level.PROVINCE, Level.CITY):
        raise KeyHierarchyError(f"PSAM key level: 1, 2 or 3, got {level}")
    chain = [province_factor(region), city_factor(region)][: Level.NATIONAL - level]
    return diversify(keyset.root(name), chain, keyset.algorithm)


def _names(keyset: KeySet, names: Iterable[str] | None) -> list[str]:
    if names is None:
        return [spec.name for spec in CARD_KEYS if spec.name in keyset.roots]
    return [card_key(name).name for name in names]


def derive_card_keys(
    keyset: KeySet, region: str, atr: bytes, names: Iterable[str] | None = None
) -> dict[str, bytes]:
    """The card's own keys (root → province → city → card) for every root in the set.

    ``region`` is the card identification code's region, ``atr`` the card's ATR (its
    T6…TD are the card factor). ``names`` restricts the result to some keys.
    """
    chain = factors_for(region, atr, 3)
    return {
        name: diversify(keyset.root(name), chain, keyset.algorithm)
        for name in _names(keyset, names)
    }


def derive_batch(
    keyset: KeySet, region: str, atrs: Sequence[bytes], names: Iterable[str] | None = None
) -> list[dict[str, bytes]]:
    """:func:`derive_card_keys` for many cards of one region, one ECB call per key name."""
    cards = [card_factor(atr) for atr in atrs]
    result: list[dict[str, bytes]] = [{} for _ in atrs]
    for name in _names(keyset, names):
        city_root = level_key(keyset, name, region, Level.CITY)
        for keys, derived in zip(
            result, diversify_batch(city_root, cards, keyset.algorithm), strict=True
        ):
            keys[name] = derived
    return result
