"""Declaration types for the card's file tree (Part 3 §5; S2 tables 3–8).

A file tree is data: :class:`EF` and :class:`DF` declarations with their identifiers,
structure, size and access rules. The national tree itself is in
:mod:`sbkcard.applet_model.ssse`; the card's COS, the typed records, personalisation
and the documentation are derived from it.

Access rules (:class:`Access`) are the standard's read/write controls: free ("无"),
``PIN``, a named key (external authentication with it), ``PIN or key``, ``PIN and
key``, and ``never`` (only the COS writes the file, e.g. DF04 EF08). Keys are named as
in :data:`sbkcard.keys.hierarchy.CARD_KEYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from sbkcard.applet_model.data_items import DataItem

__all__ = [
    "DF",
    "EF",
    "FREE",
    "NEVER",
    "PIN",
    "SSSE_AID",
    "Access",
    "Category",
    "EfShape",
    "Rule",
    "Structure",
    "Tree",
    "df_path_name",
    "key",
    "permits",
    "pin_and",
    "pin_or",
]


SSSE_AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
"""The SSSE DDF name "sx1.sh.社会保障" (S2 table 1); its path component is ``SSSE``."""


def df_path_name(fid: int | None, aid: bytes) -> str:
    """Path component of a DF: its FID, else ``SSSE`` or the hex of its name."""
    if fid is not None:
        return f"{fid:04X}"
    return "SSSE" if aid == SSSE_AID else aid.hex().upper()


class Structure(Enum):
    """EF structures (Part 3 §5.1.2; S2 tables 3–8 "文件结构")."""

    TRANSPARENT = "transparent"  # 透明
    LINEAR_FIXED = "linear fixed"  # 定长记录
    LINEAR_VARIABLE = "linear variable"  # 变长记录
    CYCLIC = "cyclic"  # 循环
    PURSE = "purse"  # COS 内部操作文件 (DF04 medical purse)

    @property
    def records(self) -> bool:
        """Whether the file holds records (READ/UPDATE RECORD, not BINARY)."""
        return self in (Structure.LINEAR_FIXED, Structure.LINEAR_VARIABLE, Structure.CYCLIC)

    @property
    def fixed(self) -> bool:
        """Whether all records have the same length."""
        return self in (Structure.LINEAR_FIXED, Structure.CYCLIC)


class Rule(Enum):
    """The kinds of access condition of S2 tables 3–8."""

    FREE = "free"  # 无
    PIN = "PIN"
    KEY = "key"
    PIN_OR_KEY = "PIN or key"  # "PIN 或 RK1DF04"
    PIN_AND_KEY = "PIN and key"  # "PIN & RK1DF04"
    NEVER = "never"  # "不允许改写": only the COS writes

    @property
    def needs_key(self) -> bool:
        """Whether the condition names a key."""
        return self in (Rule.KEY, Rule.PIN_OR_KEY, Rule.PIN_AND_KEY)


def permits(rule: Rule, pin: Callable[[], bool], key: Callable[[], bool]) -> bool:
    """Whether ``rule`` is met, given whether the PIN is verified and the rule's key is
    authenticated (asked only when the rule depends on them; Part 5 table 14).

    The one decision of an access rule: the card's COS, the declarations
    (:meth:`Access.allows`) and the terminal
    (:meth:`~sbkcard.terminal.connection.Connection.can_meet`) all ask it.
    """
    if rule is Rule.FREE:
        return True
    if rule is Rule.NEVER:
        return False
    if rule is Rule.PIN:
        return pin()
    if rule is Rule.KEY:
        return key()
    if rule is Rule.PIN_OR_KEY:
        return key() or pin()
    return key() and pin()


@dataclass(frozen=True)
class Access:
    """One read or write condition: a :class:`Rule` and, if it needs one, a key name."""

    rule: Rule
    key: str | None = None

    def __post_init__(self) -> None:
        if self.rule.needs_key != (self.key is not None):
            raise ValueError(f"access rule {self.rule.value!r} with key {self.key!r}")

    def allows(self, pin: bool, keys: Container[str]) -> bool:
        """Whether a verified PIN (``pin``) and the authenticated ``keys`` satisfy it."""
        return permits(self.rule, lambda: pin, lambda: self.key in keys)

    def __str__(self) -> str:
        if self.rule is Rule.PIN_OR_KEY:
            return f"PIN or {self.key}"
        if self.rule is Rule.PIN_AND_KEY:
            return f"PIN and {self.key}"
        if self.rule is Rule.KEY:
            return str(self.key)
        return str(self.rule.value)


FREE = Access(Rule.FREE)
NEVER = Access(Rule.NEVER)
PIN = Access(Rule.PIN)


def key(name: str) -> Access:
    """External authentication with the key ``name``."""
    return Access(Rule.KEY, name)


def pin_or(name: str) -> Access:
    """A verified PIN, or external authentication with ``name``."""
    return Access(Rule.PIN_OR_KEY, name)


def pin_and(name: str) -> Access:
    """A verified PIN and external authentication with ``name``."""
    return Access(Rule.PIN_AND_KEY, name)


class Category(Enum):
    """S2 §5's three kinds of file (table column "类别")."""

    ENABLED = "启用"  # defined and in use
    PRESET = "预设"  # defined, not yet in use
    RESERVED = "预留"  # space reserved, content undefined


class EfShape:
    """An EF's path component and capacity, from its identifiers, structure and sizes.

    Shared by the declaration (:class:`EF`) and what the card stores of it
    (:class:`~sbkcard.applet_model.user_card.fcp.EfHeader`).
    """

    __slots__ = ()
    fid: int | None
    sfi: int | None
    structure: Structure
    size: int
    record_length: int
    records: int

    @property
    def name(self) -> str:
        """Path component: ``EF05`` (FID), ``SFI1E`` (SFI only) or ``PURSE``."""
        if self.fid is not None:
            return f"{self.fid:04X}"
        if self.sfi is not None:
            return f"SFI{self.sfi:02X}"
        return self.structure.name

    @property
    def capacity(self) -> int:
        """Bytes of content the file may hold: record length × count, or its size."""
        if self.structure.fixed:
            return self.record_length * self.records
        return self.size


@dataclass(frozen=True)
class EF(EfShape):
    """An elementary file.

    ``fid`` ``None`` means the file has no file identifier (addressed by SFI only, or
    COS-internal). For transparent files ``size`` is the byte size; for fixed and
    cyclic files ``record_length`` × ``records``; for variable-length record files
    ``size`` is the space for records (their TLV encodings, concatenated).
    """

    fid: int | None
    sfi: int | None
    zh: str
    en: str
    structure: Structure
    read: Access
    write: Access
    size: int = 0
    record_length: int = 0
    records: int = 0
    items: tuple[DataItem, ...] = ()
    category: Category = Category.ENABLED


@dataclass(frozen=True)
class DF:
    """A dedicated file: the SSSE DDF or an application DF under it.

    ``aid`` is the DF name (AID) selected with ``00 A4 04 00``; ``label`` the
    application label of S2 table 2 (the DIR entry's tag ``50``). ``mac_key`` is the
    maintenance key (STK) whose session key MACs APPLICATION BLOCK and secure-messaging
    updates in this DF; ``block`` the condition for APPLICATION BLOCK (Part 7 §13).
    ``discretionary`` is the FCI's ``9F0C`` content (SSSE: the algorithm, tag ``86``).
    """

    fid: int | None
    aid: bytes
    label: str
    en: str
    mac_key: str
    block: Access
    efs: tuple[EF, ...] = ()
    dfs: tuple[DF, ...] = ()
    dir_sfi: int | None = None
    discretionary: bytes = b""
    master_key: str | None = None
    pin: bool = False

    @property
    def name(self) -> str:
        """Path component: ``DF04`` (FID) or ``SSSE`` for the FID-less SSSE DDF."""
        return df_path_name(self.fid, self.aid)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, DF | EF]]:
        """``(path, declaration)`` for this DF and everything under it, depth first."""
        path = f"{prefix}{self.name}"
        yield path, self
        for ef in self.efs:
            yield f"{path}/{ef.name}", ef
        for df in self.dfs:
            yield from df.walk(f"{path}/")

    def files(self) -> dict[str, EF]:
        """Every EF under this DF by path."""
        return {p: d for p, d in self.walk() if isinstance(d, EF)}

    def dedicated(self) -> dict[str, DF]:
        """This DF and every DF under it by path."""
        return {p: d for p, d in self.walk() if isinstance(d, DF)}


@dataclass(frozen=True)
class Tree:
    """A complete card tree of one layout version (see :mod:`sbkcard.applet_model.ssse`).

    Immutable, so one tree may be shared: ``paths`` is every DF and EF by path.
    """

    version: str
    ssse: DF
    paths: Mapping[str, DF | EF] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", MappingProxyType(dict(self.ssse.walk())))

    def ef(self, path: str) -> EF:
        """The EF at ``path`` (``KeyError`` if there is none)."""
        found = self.paths[path]
        if not isinstance(found, EF):
            raise KeyError(f"{path} is a DF, not an EF")
        return found

    def df(self, path: str) -> DF:
        """The DF at ``path`` (``KeyError`` if there is none)."""
        found = self.paths[path]
        if not isinstance(found, DF):
            raise KeyError(f"{path} is an EF, not a DF")
        return found

    def files(self) -> dict[str, EF]:
        """Every EF of the tree by path."""
        return self.ssse.files()
