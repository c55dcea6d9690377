"""Typed contents of every file of the tree, derived from the declarations (S2 §7–§8).

One frozen dataclass per file (:class:`IssuerData` for SSSE EF05, :class:`Cardholder`
for EF06, :class:`MedicalInsurance` for DF04 EF05, :class:`TransactionLog` of
:class:`TransactionRecord` for DF04 EF08, …) and one per B-TLV group or cyclic record.
Each dataclass field is a data item of :mod:`sbkcard.applet_model.data_items`, with the
same name, in the same order, typed and defaulted by the item's kind: a class names the
file (``path=``) or B-TLV group (``item=``) it mirrors and is checked against the
declarations when it is made, so the classes are typed views of table 9, never a
second copy of it. The codec is generic and driven by the item declarations:

- ``an`` → ``str`` (GBK, ``00``-padded), ``cn`` → ``str`` of digits (``F``-padded),
  ``cn 4`` dates → ``datetime.date | None`` (``None`` is ``FFFFFFFF``), the ``cn 7``
  transaction time → ``datetime.datetime | None``, binary amounts → ``int``,
  other binary → ``bytes``, the card identification code →
  :class:`~sbkcard.identifiers.CardId`;
- a variable-length record file is its records' simple-TLV encodings concatenated in
  the declared order (what ``READ RECORD`` "P1 to last" returns and what the card
  stores), every declared item present, repeated items (``tag:n``) as tuples; an item
  a card keeps in one file of two (:data:`~sbkcard.applet_model.data_items.ONE_OF`:
  ``60`` in DF02 EF06 or DF03 EF05, S2 §7) is :data:`ABSENT` from the other, and
  :func:`check_one_of` checks a whole card;
- cyclic and fixed-record files are their records concatenated, newest first.

``decode`` followed by ``encode`` gives back the exact bytes of any content in the
declared order; records of tags the declarations do not know (the issuer's own
extensions, S2 §6) are kept in ``extra`` and written back after the declared ones.

Layouts (:class:`~sbkcard.applet_model.ssse.Layout`): on 2.0x and 3.0x cards the name
is ``09`` followed by its extension ``4E`` (S3 §10.2: readers join them); on 1.0x cards
there is no ``4E`` and no ★ item, and the tags that the V2.0 notice reuses keep their
old length: a new value is written there right-padded with ``E`` nibbles and is
recognised on reading by its trailing ``EE`` (S2 appendix C; DF02 EF09 ``55`` as
appendix C's cn 08, not table 9's an 10); an old value stays in ``extra``, and a new
value the slot cannot hold with an ``EE`` (DF02 EF06 ``4B`` an 05, ``4F`` an 06 in cn 04
slots) is an error. A tag whose definition alone changed (DF04 EF06 ``92`` beside
``90``) carries the new item when the tag it follows does, and is otherwise an old
value in ``extra``; a value of it is written with the tag it follows, ``E``-padded even
when empty.
An item whose length alone changed (S2 附表二: DF01 EF05 ``20`` 户口类别 an 01 → 02,
DF04 EF05 ``8B`` an 0A → 1D) keeps its 1.00 length there: it is read at that length
(a 1.00 card's one-character 户口类别 is its value), and a longer value is an error.
These rules are functions of one item (:func:`sized_items`, :func:`stored_length`,
:func:`renewed`, :func:`v1_value`, :func:`v1_slot`, :func:`encode_sized`), which the
terminal's reads and writes by file address use as well.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import itertools
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Self, TypeVar, dataclass_transform, get_args, get_origin

from sbkcard.applet_model.data_items import (
    FILE_ITEMS,
    LEGACY_ITEMS,
    ONE_OF,
    DataItem,
    Format,
    Kind,
    all_items,
    legacy,
    one_of,
    resized,
)
from sbkcard.applet_model.ssse import Layout
from sbkcard.errors import SbkcardError
from sbkcard.identifiers import CardId, FormatError
from sbkcard.identifiers.formats import (
    decode_an,
    decode_cn,
    decode_date,
    encode_an,
    encode_cn,
    encode_date,
)

__all__ = [
    "ABSENT",
    "CONTENT_TYPES",
    "Absent",
    "Cardholder",
    "Confirmation",
    "Degree",
    "Dependants",
    "Education",
    "EmploymentAid",
    "EmploymentAidFile",
    "EmploymentHistory",
    "EmploymentRecord",
    "EmploymentStatus",
    "Expert",
    "FileContent",
    "Fingerprint",
    "Group",
    "Honours",
    "HouseholdRegistration",
    "InjuryDetermination",
    "InsuranceCertificates",
    "InsuranceProof",
    "IssuerData",
    "MaritalStatus",
    "Maternity",
    "MedicalInsurance",
    "MilitaryTransfer",
    "NationalityAndAffiliation",
    "OfflineSettlement",
    "Pension",
    "PersonalStatus",
    "Photo",
    "ProfessionalQualification",
    "Record",
    "RecordError",
    "RecordFile",
    "RegistrationCertificate",
    "ReservedData",
    "Residence",
    "Skills",
    "SpecialSettlement",
    "SpecialSettlements",
    "StatusAndEmployer",
    "SupportBenefit",
    "SupportBenefits",
    "TlvFile",
    "TransactionLog",
    "TransactionRecord",
    "UnemploymentInsurance",
    "WorkAbility",
    "WorkInjury",
    "WorkerQualification",
    "check_one_of",
    "decode_file",
    "encode_file",
    "encode_sized",
    "renewed",
    "sized_items",
    "split_name",
    "stored_length",
    "v1_slot",
    "v1_value",
]

NAME_LENGTH = 0x1E
NAME_EXT_LENGTH = 0x14
_NO_TIME = b"\xff" * 7
_EE = 0xEE


class RecordError(SbkcardError, ValueError):
    """File content that does not fit its declaration (names the file and the item)."""


Extra = tuple[tuple[int, bytes], ...]


class Absent(Enum):
    """The value of an item this file does not hold (S2 §7: ``60`` is in one file of two)."""

    ABSENT = "absent"

    def __bool__(self) -> bool:
        return False


ABSENT = Absent.ABSENT
"""DF02 EF06 or DF03 EF05 without its ``60`` record: the other file holds it."""


# -- values ----------------------------------------------------------------------------


def _empty(it: DataItem) -> Any:
    kind = it.kind
    if kind in (Kind.TEXT, Kind.DIGITS):
        return ""
    if kind is Kind.AMOUNT:
        return 0
    if kind is Kind.BYTES:
        return bytes(it.length)
    if kind is Kind.GROUP:
        return _GROUPS[it.field]()
    return None


def _where(path: str, it: DataItem) -> str:
    return f"{path} {it.label} {it.field}"


def _decode_value(path: str, it: DataItem, raw: bytes) -> Any:
    where = _where(path, it)
    if len(raw) != it.length:
        raise RecordError(f"{where}: {it.fmt.value} {it.length:02X} but {len(raw)} bytes stored")
    kind = it.kind
    try:
        if kind is Kind.TEXT:
            return decode_an(raw, field=where)
        if kind is Kind.DIGITS:
            return decode_cn(raw, field=where)
        if kind is Kind.DATE:
            return decode_date(raw, field=where)
        if kind is Kind.DATETIME:
            return _decode_time(raw, where)
        if kind is Kind.AMOUNT:
            return int.from_bytes(raw, "big")
        if kind is Kind.CARD_ID:
            return None if raw == b"\xff" * it.length else CardId.from_bytes(raw)
        if kind is Kind.GROUP:
            return _decode_group(path, it, raw)
    except FormatError as exc:
        raise RecordError(str(exc)) from None
    except SbkcardError as exc:
        raise RecordError(f"{where}: {exc}") from None
    return raw


def _encode_value(path: str, it: DataItem, value: Any) -> bytes:
    where = _where(path, it)
    kind = it.kind
    try:
        if kind is Kind.TEXT:
            return encode_an(value, it.length, field=where)
        if kind is Kind.DIGITS:
            return encode_cn(value, it.length, field=where)
        if kind is Kind.DATE:
            return encode_date(value, field=where)
        if kind is Kind.DATETIME:
            return _encode_time(value, where)
        if kind is Kind.AMOUNT:
            if not 0 <= value < 1 << (8 * it.length):
                raise RecordError(f"{where}: {value} does not fit b {it.length}")
            return int(value).to_bytes(it.length, "big")
        if kind is Kind.CARD_ID:
            return b"\xff" * it.length if value is None else value.to_bytes()
        if kind is Kind.GROUP:
            return _encode_group(path, it, value)
    except FormatError as exc:
        raise RecordError(str(exc)) from None
    raw = bytes(value)
    if len(raw) > it.length:
        raise RecordError(f"{where}: {len(raw)} bytes do not fit b {it.length:02X}")
    return raw + bytes(it.length - len(raw))


def _decode_time(raw: bytes, where: str) -> datetime.datetime | None:
    if raw == _NO_TIME:
        return None
    digits = decode_cn(raw, field=where)
    try:
        return datetime.datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise RecordError(f"{where}: {raw.hex().upper()} is not CCYYMMDDhhmmss") from None


def _encode_time(value: datetime.datetime | None, where: str) -> bytes:
    if value is None:
        return _NO_TIME
    return encode_cn(value.strftime("%Y%m%d%H%M%S"), 7, field=where)


# -- simple-TLV records ------------------------------------------------------------------


def _split_tlv(path: str, body: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(body)
    while i < n:
        if i + 2 > n:
            raise RecordError(f"{path}: record at offset {i} has no length byte")
        tag, length = body[i], body[i + 1]
        if tag in (0x00, 0xFF):
            raise RecordError(f"{path}: {tag:02X} at offset {i} is not a record identifier")
        end = i + 2 + length
        if end > n:
            raise RecordError(f"{path}: record {tag:02X} needs {length} bytes, {n - i - 2} follow")
        out.append((tag, body[i + 2 : end]))
        i = end
    return out


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag, len(value))) + value


def _decode_records(
    path: str, items: Sequence[DataItem], body: bytes, layout: Layout
) -> tuple[dict[str, Any], Extra]:
    items = sized_items(path, items, layout)
    records = _split_tlv(path, body)
    renewed_tags = (
        {tag for tag, value in records if renewed(path, tag, value)}
        if layout is Layout.V1
        else set()
    )
    occurrences: dict[int, list[bytes]] = {}
    extra: list[tuple[int, bytes]] = []
    declared = {it.tag: it for it in items}
    for tag, value in records:
        it = declared.get(tag)
        new: bytes | None = value
        if it is not None and layout is Layout.V1:
            new = v1_value(path, it, value, renewed_tags)
        if it is None or new is None:
            extra.append((tag, value))
            continue
        found = occurrences.setdefault(tag, [])
        if len(found) < it.repeat:
            found.append(new)
        else:
            extra.append((tag, value))
    values: dict[str, Any] = {}
    for it in items:
        assert it.tag is not None
        raws = occurrences.get(it.tag, [])
        decoded = [_decode_value(path, it, raw) for raw in raws]
        if it.repeat > 1:
            decoded += [_empty(it) for _ in range(it.repeat - len(decoded))]
            values[it.field] = tuple(decoded)
        elif decoded:
            values[it.field] = decoded[0]
        else:
            values[it.field] = ABSENT if one_of(path, it.tag) else _empty(it)
    return values, tuple(extra)


def _encode_records(
    path: str, items: Sequence[DataItem], values: Mapping[str, Any], extra: Extra, layout: Layout
) -> bytes:
    declared = items
    items = sized_items(path, items, layout)
    out = bytearray()
    for it, full in zip(items, declared, strict=True):
        assert it.tag is not None
        old = legacy(path, it.tag) if layout is Layout.V1 else None
        if layout is Layout.V1 and it.added and old is None:
            continue
        value = values[it.field]
        if value is ABSENT:
            if one_of(path, it.tag) is None:
                raise RecordError(f"{_where(path, it)}: every {path} holds this item")
            continue
        occurrences = tuple(value) if it.repeat > 1 else (value,)
        if it.repeat > 1 and len(occurrences) > it.repeat:
            raise RecordError(f"{_where(path, it)}: at most {it.repeat} entries")
        if it.repeat > 1:
            occurrences += tuple(_empty(it) for _ in range(it.repeat - len(occurrences)))
        for occurrence in occurrences:
            raw = encode_sized(path, it, full, functools.partial(_typed_value, path, occurrence))
            if old is not None:
                if occurrence == _empty(it) and not _leads_a_value(path, it, values):
                    continue
                raw = v1_slot(path, it, raw)
            out += _tlv(it.tag, raw)
    for tag, raw in extra:
        out += _tlv(tag, raw)
    return bytes(out)


def _leads_a_value(path: str, it: DataItem, values: Mapping[str, Any]) -> bool:
    """Whether a "定义变更" item that follows ``it`` has a value: ``it`` is then written on
    a 1.0x card even empty, its ``EE`` telling what the follower holds (S2 appendix C),
    as the terminal writes it."""
    return any(
        lg.path == path and lg.follows == it.tag and values[lg.new.field] != _empty(lg.new)
        for lg in LEGACY_ITEMS
    )


def _typed_value(path: str, value: Any, it: DataItem) -> bytes:
    return _encode_value(path, it, value)


# -- one item on a 1.0x card (S2 appendix C, 附表二), for the codec and the terminal -----


def sized_items(path: str, items: Sequence[DataItem], layout: Layout) -> list[DataItem]:
    """``items`` at the lengths a card of ``layout`` keeps them (S2 附表二 on 1.0x cards)."""
    out = list(items)
    if layout is Layout.V1:
        for i, it in enumerate(out):
            old = resized(path, it.tag)
            if old is not None:
                out[i] = dataclasses.replace(it, length=old.old_length)
    return out


def stored_length(path: str, it: DataItem, layout: Layout) -> int:
    """The longest value record ``it`` has on a card of ``layout`` (its 1.00 slot, S2
    appendix C, or its 附表二 length on a 1.0x card; ``it.length`` otherwise)."""
    if layout is not Layout.V1:
        return it.length
    old = legacy(path, it.tag)
    size = resized(path, it.tag)
    if size is not None:
        return size.old_length
    return it.length if old is None else max(it.length, old.old_length)


def renewed(path: str, tag: int, value: bytes) -> bool:
    """Whether record ``tag`` of a 1.0x card's file ``path`` holding ``value`` is a new
    item ``E``-padded into its 1.00 slot: a trailing ``EE`` (S2 appendix C)."""
    old = legacy(path, tag)
    return (
        old is not None
        and old.follows is None
        and len(value) == old.old_length
        and value.endswith(bytes((_EE,)))
    )


def v1_value(path: str, it: DataItem, value: bytes, renewed_tags: Container[int]) -> bytes | None:
    """The V2.0 value of ``it`` that a 1.0x card's record holds as ``value``, or ``None``
    when the record holds the 1.00 item of S2 appendix C.

    ``renewed_tags`` are the file's tags that :func:`renewed` says carry a new item: a
    "定义变更" item is new when the tag it follows is one of them.
    """
    old = legacy(path, it.tag)
    if old is None:
        return value
    if old.follows is not None:
        return value if old.follows in renewed_tags else None
    if len(value) != old.old_length:
        return value
    if not renewed(path, old.tag, value):
        return None
    stripped = value.rstrip(bytes((_EE,)))
    if old.slot_cn is not None:
        where = _where(path, it)
        try:
            return encode_an(decode_cn(stripped, field=where), it.length, field=where)
        except FormatError as exc:
            raise RecordError(str(exc)) from None
    pad = b"\xff" if it.fmt is Format.CN else b"\x00"
    return (stripped + pad * it.length)[: it.length]


def v1_slot(path: str, it: DataItem, raw: bytes) -> bytes:
    """``raw`` (the V2.0 value of ``it``) as a 1.0x card's record holds it: ``E``-padded
    into the 1.00 slot of a reused tag, at least one ``EE`` (S2 appendix C, ``55`` as cn 08
    first); unchanged for the other items."""
    old = legacy(path, it.tag)
    if old is None or old.follows is not None:
        return raw
    where = _where(path, it)
    if old.slot_cn is not None:
        try:
            raw = encode_cn(decode_an(raw, field=where), old.slot_cn, field=where)
        except FormatError as exc:
            raise RecordError(
                f"{exc}: appendix C writes {it.zh} on a 1.0x card as cn {old.slot_cn:02X}"
            ) from None
    if len(raw) >= old.old_length:
        raise RecordError(
            f"{where}: appendix C writes {it.fmt.value} {it.length:02X} into the "
            f"1.0x slot of {old.old_zh} ({old.old_format.value} {old.old_length:02X}) "
            "right-padded with E, which leaves no room for it"
        )
    return raw.ljust(old.old_length, bytes((_EE,)))


def encode_sized(
    path: str, sized: DataItem, full: DataItem, encode: Callable[[DataItem], bytes]
) -> bytes:
    """``encode(sized)``, the value at the length the card keeps (:func:`sized_items`);
    when only V2.0's length (``full``) holds it, a :class:`RecordError` naming 附表二."""
    try:
        return encode(sized)
    except SbkcardError as exc:
        if sized is full:
            raise
        encode(full)  # a bad value, not only a long one
        raise RecordError(
            f"{exc}: a 1.0x card keeps {sized.zh} as {sized.fmt.value} {sized.length:02X}, "
            f"V2.0's {full.fmt.value} {full.length:02X} cannot be written there "
            "(S2 附表二; appendix C has no rule for it)"
        ) from None


def _decode_fields(path: str, items: Sequence[DataItem], raw: bytes) -> dict[str, Any]:
    values: dict[str, Any] = {}
    offset = 0
    for it in items:
        values[it.field] = _decode_value(path, it, raw[offset : offset + it.length])
        offset += it.length
    return values


def _encode_fields(path: str, items: Sequence[DataItem], values: Mapping[str, Any]) -> bytes:
    return b"".join(_encode_value(path, it, values[it.field]) for it in items)


# -- B-TLV groups ------------------------------------------------------------------------


def _decode_group(path: str, it: DataItem, raw: bytes) -> Any:
    values, extra = _decode_records(path, it.members, raw, Layout.V2)
    if extra:
        tags = " ".join(f"{tag:02X}" for tag, _ in extra)
        raise RecordError(f"{_where(path, it)}: unknown member(s) {tags}")
    return _GROUPS[it.field](**values)


def _encode_group(path: str, it: DataItem, value: Any) -> bytes:
    values = {m.field: getattr(value, m.field) for m in it.members}
    return _encode_records(path, it.members, values, (), Layout.V2)


# -- the content classes: typed views of the declarations --------------------------------

_CONTENT: dict[str, type[FileContent]] = {}
_GROUPS: dict[str, type[Group]] = {}

_ANNOTATIONS = {
    Kind.TEXT: "str",
    Kind.DIGITS: "str",
    Kind.DATE: "datetime.date | None",
    Kind.DATETIME: "datetime.datetime | None",
    Kind.AMOUNT: "int",
    Kind.BYTES: "bytes",
    Kind.CARD_ID: "CardId | None",
}


def _shape(it: DataItem, path: str) -> tuple[str, str, Any]:
    """``(field, annotation, default)`` a content class of file ``path`` must give ``it``.

    An item of :data:`~sbkcard.applet_model.data_items.ONE_OF` may be :data:`ABSENT`;
    new content keeps it in the rule's first file.
    """
    kind = _GROUPS[it.field].__name__ if it.kind is Kind.GROUP else _ANNOTATIONS[it.kind]
    if it.repeat > 1:
        return it.field, f"tuple[{kind}, ...]", ()
    rule = one_of(path, it.tag)
    if rule is not None:
        kind = kind.replace(" | None", "") + " | Absent | None"
        return it.field, kind, _empty(it) if rule.paths[0] == path else ABSENT
    return it.field, kind, _empty(it)


def _mirror(cls: type[_Declared], items: Sequence[DataItem], where: str) -> None:
    """Check that ``cls``'s fields are ``items`` in order, each typed and defaulted by its kind.

    The declarations are the standard (S2 table 9); a class that drifts from them is an
    error when the module is imported, not a wrong byte on a card. A variable-length
    record file (a :class:`TlvFile`) ends with ``extra``.
    """
    expected = [_shape(it, where) for it in items if it.field not in cls.JOINED]
    if issubclass(cls, TlvFile):
        expected.append(("extra", "Extra", ()))
    actual = [(f.name, f.type, f.default) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for want, have in itertools.zip_longest(expected, actual):
        if want != have:
            raise TypeError(f"{cls.__name__}: {where} wants the field {want}, the class has {have}")


@dataclass_transform(frozen_default=True)
class _Declared:
    """A frozen dataclass whose fields mirror declared items (see :func:`_mirror`)."""

    JOINED: ClassVar[frozenset[str]] = frozenset()
    """Declared items the class folds into another field (EF06 ``4E`` into ``name``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)


class Group(_Declared):
    """One occurrence of a B-TLV group (S2 §7), its member items as fields.

    A subclass names the group item it mirrors: ``class Degree(Group, item="degrees")``.
    """

    def __init_subclass__(cls, *, item: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if item is not None:
            (group,) = (it for _, it in all_items() if it.field == item and it.members)
            _mirror(cls, group.members, f"B-TLV {group.label}")
            _GROUPS[item] = cls


class FileContent(_Declared):
    """A file's content: ``decode`` from and ``encode`` to the file's bytes.

    A subclass names the file it mirrors (``class Photo(FileContent, path="SSSE/EF08")``)
    and becomes its entry of :data:`CONTENT_TYPES`. This base reads a file of positional
    fields (a transparent file, one record of a cyclic file); :class:`TlvFile` reads
    variable-length record files and :class:`RecordFile` cyclic ones.
    """

    PATH: ClassVar[str]
    VECTORS: ClassVar[tuple[tuple[bytes, FileContent], ...]] = ()
    """``(file bytes, typed content)`` pairs from the standard's examples and real cards,
    checked both ways by the tests (``decode(bytes) == content``, ``encode`` back)."""
    V1_VECTORS: ClassVar[tuple[tuple[bytes, FileContent], ...]] = ()
    """The same on a 1.0x card (``Layout.V1``): new values in the tags S2 appendix C reuses."""

    def __init_subclass__(cls, *, path: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if path is None:
            return
        items = FILE_ITEMS[path]
        tagged = items[0].tag is not None
        if tagged != issubclass(cls, TlvFile):
            kind = "simple-TLV records: a TlvFile" if tagged else "positional fields: no TlvFile"
            raise TypeError(f"{cls.__name__}: {path} holds {kind}")
        cls.PATH = path
        _mirror(cls, items, path)
        if not issubclass(cls, Record):
            _CONTENT[path] = cls

    @classmethod
    def decode(cls, body: bytes, layout: Layout = Layout.V2, *, path: str | None = None) -> Self:
        """The typed content of ``body`` (the file as stored, all records)."""
        where = path or cls.PATH
        return cls._from_values(_decode_fields(where, FILE_ITEMS[where], body))

    def encode(self, layout: Layout = Layout.V2, *, path: str | None = None) -> bytes:
        """The file's bytes for this content (all declared records, in order)."""
        where = path or self.PATH
        return _encode_fields(where, FILE_ITEMS[where], self._to_values(layout))

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> Self:
        return cls(**values)

    def _to_values(self, layout: Layout) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class TlvFile(FileContent):
    """A variable-length record file: one simple-TLV record per item, then ``extra``."""

    @classmethod
    def decode(cls, body: bytes, layout: Layout = Layout.V2, *, path: str | None = None) -> Self:
        where = path or cls.PATH
        values, extra = _decode_records(where, FILE_ITEMS[where], body, layout)
        return cls._from_values({**values, "extra": extra})

    def encode(self, layout: Layout = Layout.V2, *, path: str | None = None) -> bytes:
        where = path or self.PATH
        values = self._to_values(layout)
        return _encode_records(where, FILE_ITEMS[where], values, values["extra"], layout)


class Record(FileContent):
    """One record of a cyclic file (the file itself is a :class:`RecordFile`)."""


_R = TypeVar("_R", bound=Record)


class RecordFile(FileContent, Generic[_R]):
    """A cyclic file: its records, newest (record #1) first.

    The record class is the type argument (``class TransactionLog(RecordFile[TransactionRecord])``),
    the path is the record's.
    """

    RECORD: ClassVar[type[Record]]
    records: tuple[_R, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        (cls.RECORD,) = (
            get_args(base)[0]
            for base in cls.__dict__.get("__orig_bases__", ())
            if get_origin(base) is RecordFile
        )
        cls.PATH = cls.RECORD.PATH
        _CONTENT[cls.PATH] = cls

    @classmethod
    def decode(cls, body: bytes, layout: Layout = Layout.V2, *, path: str | None = None) -> Self:
        where = path or cls.PATH
        size = sum(it.length for it in FILE_ITEMS[where])
        if len(body) % size:
            raise RecordError(f"{where}: {len(body)} bytes are not whole {size}-byte records")
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        return cls._from_values(
            {"records": tuple(cls.RECORD.decode(c, layout, path=where) for c in chunks)}
        )

    def encode(self, layout: Layout = Layout.V2, *, path: str | None = None) -> bytes:
        where = path or self.PATH
        return b"".join(r.encode(layout, path=where) for r in self.records)


# SSSE, 基本应用数据区 (S2 table 3)


class IssuerData(TlvFile, path="SSSE/EF05"):
    """SSSE EF05 发卡机构数据 (S2 table 3, §8.1.1)."""

    card_id: CardId | None = None
    card_type: str = ""
    version: str = ""
    init_org: str = ""
    issue_date: datetime.date | None = None
    expiry: datetime.date | None = None
    card_number: str = ""
    extra: Extra = ()

    @property
    def layout(self) -> Layout:
        """The layout the version string announces (S3 §10.2)."""
        return Layout.of(self.version)


def split_name(name: str, layout: Layout = Layout.V2, *, field: str = "name") -> tuple[str, str]:
    """Split a name into EF06 ``09`` (30 GBK bytes) and ``4E`` (20) at a character boundary.

    1.0x cards have no ``4E``: the name must fit 30 bytes (S2 table 9 note on ``09``).
    """
    head, used = [], 0
    chars = iter(name)
    for ch in chars:
        size = len(ch.encode("gbk", errors="replace"))
        if used + size > NAME_LENGTH:
            rest = ch + "".join(chars)
            break
        head.append(ch)
        used += size
    else:
        rest = ""
    limit = NAME_LENGTH + (NAME_EXT_LENGTH if layout.has_name_extension else 0)
    if rest and len(rest.encode("gbk", errors="replace")) > limit - used:
        raise RecordError(f"{field}: {name!r} does not fit {limit} GBK bytes")
    return "".join(head), rest


class Cardholder(TlvFile, path="SSSE/EF06"):
    """SSSE EF06 持卡人基本信息 (S2 table 3, §8.1.2), the name joined from ``09`` and ``4E``."""

    JOINED = frozenset({"name_ext"})
    ssn: str = ""
    name: str = ""
    gender: str = ""
    ethnicity: str = ""
    birthplace: str = ""
    birth_date: datetime.date | None = None
    extra: Extra = ()

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> Self:
        values = dict(values)
        values["name"] += values.pop("name_ext")
        return cls(**values)

    def _to_values(self, layout: Layout) -> dict[str, Any]:
        values = super()._to_values(layout)
        values["name"], values["name_ext"] = split_name(self.name, layout, field="SSSE/EF06 name")
        return values


class Fingerprint(FileContent, path="SSSE/EF07"):
    """SSSE EF07 指纹 (S2 table 3: 0x300 bytes from offset 0)."""

    fingerprint: bytes = bytes(0x300)


class Photo(FileContent, path="SSSE/EF08"):
    """SSSE EF08 数字相片 (S2 table 3, table 15: 0x1000 bytes, JPEG or BMP)."""

    photo: bytes = bytes(0x1000)


# DF01, 公共应用数据区 (S2 table 4)


class HouseholdRegistration(TlvFile, path="SSSE/DF01/EF05"):
    """DF01 EF05 户籍信息 (S2 table 4)."""

    hukou_type: str = ""
    hukou_address: str = ""
    hukou_region: str = ""
    extra: Extra = ()


class Residence(TlvFile, path="SSSE/DF01/EF06"):
    """DF01 EF06 常住地信息 (S2 table 4)."""

    residence_address: str = ""
    residence_region: str = ""
    phone: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    extra: Extra = ()


class PersonalStatus(TlvFile, path="SSSE/DF01/EF07"):
    """DF01 EF07 个人状况信息 (S2 table 4)."""

    employment_status: str = ""
    extra: Extra = ()


class MaritalStatus(TlvFile, path="SSSE/DF01/EF08"):
    """DF01 EF08 婚姻状况信息 (S2 table 4)."""

    marital_status: str = ""
    extra: Extra = ()


class StatusAndEmployer(TlvFile, path="SSSE/DF01/EF09"):
    """DF01 EF09 人员身份及就业单位信息 (S2 table 4)."""

    employer_name: str = ""
    employer_code: str = ""
    person_category: str = ""
    extra: Extra = ()


class NationalityAndAffiliation(TlvFile, path="SSSE/DF01/EF0A"):
    """DF01 EF0A 国籍及政治面貌信息 (S2 table 4)."""

    nationality: str = ""
    political_status: str = ""
    party_date: datetime.date | None = None
    extra: Extra = ()


class Degree(Group, item="degrees"):
    """DF01 EF15 学位信息 (B-TLV ``40``, S2 table 9)."""

    degree_code: str = ""
    major_category: str = ""
    school: str = ""


class Education(TlvFile, path="SSSE/DF01/EF15"):
    """DF01 EF15 学历信息 (S2 table 4): education level, up to three degrees ``40:1``–``40:3``."""

    education: str = ""
    degrees: tuple[Degree, ...] = ()
    extra: Extra = ()


class ReservedData(FileContent, path="SSSE/DF01/EF16"):
    """DF01 EF16–EF1A 预留信息文件 (S2 table 4: 0x128 bytes each, content undefined)."""

    data: bytes = bytes(0x128)


# DF02, 就业与失业数据区 (S2 table 5)


class WorkerQualification(Group, item="worker_qualifications"):
    """DF02 EF05 职业资格（工人技术等级）信息 (B-TLV ``43``, S2 table 9)."""

    name_code: str = ""
    grade: str = ""
    issuer: str = ""
    issue_date: datetime.date | None = None
    certificate: str = ""


class ProfessionalQualification(Group, item="professional_qualifications"):
    """DF02 EF05 职业资格（专业技术人员）信息 (B-TLV ``44``, S2 table 9)."""

    name_code: str = ""
    authority: str = ""
    registration_date: datetime.date | None = None
    certificate: str = ""


class Skills(TlvFile, path="SSSE/DF02/EF05"):
    """DF02 EF05 职业和专业技能信息 (S2 table 5)."""

    title_code: str = ""
    title_level: str = ""
    worker_qualifications: tuple[WorkerQualification, ...] = ()
    professional_qualifications: tuple[ProfessionalQualification, ...] = ()
    extra: Extra = ()


class EmploymentStatus(TlvFile, path="SSSE/DF02/EF06"):
    """DF02 EF06 就业状况信息 (S2 table 5); ``60`` is here unless DF03 EF05 holds it (S2 §7)."""

    employment_date: datetime.date | None = None
    employment_type: str = ""
    employment_region: str = ""
    unemployment_date: datetime.date | Absent | None = None
    unemployment_type: str = ""
    unemployment_region: str = ""
    occupation: str = ""
    extra: Extra = ()


class EmploymentRecord(Record, path="SSSE/DF02/EF07"):
    """One DF02 EF07 就业记录 (S2 table 5: 0x55 bytes)."""

    occupation: str = ""
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    employer: str = ""


class EmploymentHistory(RecordFile[EmploymentRecord]):
    """DF02 EF07 就业记录信息 (S2 table 5: cyclic, newest first)."""


class RegistrationCertificate(TlvFile, path="SSSE/DF02/EF09"):
    """DF02 EF09 就业失业登记证信息 (S2 table 5)."""

    certificate: str = ""
    issuer: str = ""
    issue_date: datetime.date | None = None
    region: str = ""
    extra: Extra = ()


class EmploymentAid(Group, item="aid"):
    """DF02 EF15 就业援助对象认定信息 (B-TLV ``99``, S2 table 9)."""

    aid_type: str = ""
    aid_date: datetime.date | None = None
    aid_region: str = ""


class EmploymentAidFile(TlvFile, path="SSSE/DF02/EF15"):
    """DF02 EF15 就业援助对象认定信息文件 (S2 table 5)."""

    aid: tuple[EmploymentAid, ...] = ()
    exit_date: datetime.date | None = None
    exit_region: str = ""
    extra: Extra = ()


class SupportBenefit(Record, path="SSSE/DF02/EF16"):
    """One DF02 EF16 就业扶持政策享受信息 record (S2 table 5: 0x12 bytes)."""

    policy_type: str = ""
    approval_date: datetime.date | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    region: str = ""


class SupportBenefits(RecordFile[SupportBenefit]):
    """DF02 EF16 就业扶持政策享受信息文件 (S2 table 5: cyclic, newest first)."""


# DF03, 社会保险数据区 1 (S2 table 6)


class UnemploymentInsurance(TlvFile, path="SSSE/DF03/EF05"):
    """DF03 EF05 失业保险信息 (S2 table 6); ``60`` :data:`ABSENT` unless DF02 EF06 lacks it
    (S2 §7)."""

    region: str = ""
    unemployment_date: datetime.date | Absent | None = ABSENT
    claim_date: datetime.date | None = None
    report_date: datetime.date | None = None
    contribution_years: str = ""
    effective_years: str = ""
    entitled_months: str = ""
    received_months: str = ""
    extra: Extra = ()


class Confirmation(Group, item="confirmations"):
    """DF03 EF06 申请确认事项 (B-TLV ``4A``, S2 table 9)."""

    item_code: str = ""
    conclusion: str = ""
    aid_device: str = ""
    apply_date: datetime.date | None = None
    authority: str = ""


class WorkAbility(TlvFile, path="SSSE/DF03/EF06"):
    """DF03 EF06 劳动能力鉴定信息 (S2 table 6)."""

    appraisal_number: str = ""
    appraisal_item: str = ""
    disability_grade: str = ""
    self_care_grade: str = ""
    conclusion: str = ""
    appraisal_date: datetime.date | None = None
    appraisal_body: str = ""
    confirmations: tuple[Confirmation, ...] = ()
    extra: Extra = ()


class Pension(TlvFile, path="SSSE/DF03/EF07"):
    """DF03 EF07 养老保险信息 (S2 table 6)."""

    scheme: str = ""
    region: str = ""
    account_date: datetime.date | None = None
    retirement_date: datetime.date | None = None
    benefit_date: datetime.date | None = None
    updated: datetime.date | None = None
    extra: Extra = ()


class WorkInjury(TlvFile, path="SSSE/DF03/EF15"):
    """DF03 EF15 工伤保险信息 (S2 table 6)."""

    region: str = ""
    benefit_date: datetime.date | None = None
    updated: datetime.date | None = None
    extra: Extra = ()


class Maternity(TlvFile, path="SSSE/DF03/EF16"):
    """DF03 EF16 生育保险信息 (S2 table 6)."""

    region: str = ""
    spouse_flag: str = ""
    extra: Extra = ()


class InjuryDetermination(TlvFile, path="SSSE/DF03/EF17"):
    """DF03 EF17 工伤认定信息 (S2 table 6)."""

    determination_number: str = ""
    employer: str = ""
    conclusion: str = ""
    determination_date: datetime.date | None = None
    authority: str = ""
    extra: Extra = ()


class Dependants(TlvFile, path="SSSE/DF03/EF18"):
    """DF03 EF18 供养亲属信息 (S2 table 6)."""

    scheme: str = ""
    region: str = ""
    relation: str = ""
    benefit_date: datetime.date | None = None
    updated: datetime.date | None = None
    extra: Extra = ()


class InsuranceProof(Group, item="certificates"):
    """DF03 EF19 参保凭证信息 (B-TLV ``79``, S2 table 9): pension, medical, unemployment, …"""

    scheme: str = ""
    region: str = ""
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    paid_amount: str = ""
    paid_months: str = ""
    issue_date: datetime.date | None = None


class InsuranceCertificates(TlvFile, path="SSSE/DF03/EF19"):
    """DF03 EF19 参保凭证信息文件 (S2 table 6): four fixed-length records, one ``79`` each."""

    certificates: tuple[InsuranceProof, ...] = ()
    extra: Extra = ()


# DF04, 社会保险数据区 2 (S2 table 7)


class MedicalInsurance(TlvFile, path="SSSE/DF04/EF05"):
    """DF04 EF05 医疗保险基本信息 (S2 table 7)."""

    scheme: str = ""
    region: str = ""
    health_record: str = ""
    category: str = ""
    account_date: datetime.date | None = None
    account_number: str = ""
    certificate: str = ""
    hospital1: str = ""
    hospital2: str = ""
    hospital3: str = ""
    injury_hospital1: str = ""
    injury_hospital2: str = ""
    injury_hospital3: str = ""
    maternity_hospital1: str = ""
    maternity_hospital2: str = ""
    card_usage: str = ""
    extra: Extra = ()


class OfflineSettlement(TlvFile, path="SSSE/DF04/EF06"):
    """DF04 EF06 医疗保险临时脱网结算信息 (S2 table 7)."""

    offline_allowed: str = ""
    offline_total: str = ""
    offline_count: str = ""
    extra: Extra = ()


class TransactionRecord(Record, path="SSSE/DF04/EF08"):
    """One DF04 EF08 医疗交易明细 record (S2 table 7: 0x1C bytes), written by the card (Part 7)."""

    seq: int = 0
    kind: str = ""
    terminal: str = ""
    time: datetime.datetime | None = None
    account: int = 0
    self_paid: int = 0
    pooled: int = 0


class TransactionLog(RecordFile[TransactionRecord]):
    """DF04 EF08 医疗交易明细文件 (S2 table 7: cyclic, at least 30 records, newest first)."""


class SpecialSettlement(Record, path="SSSE/DF04/EF15"):
    """One DF04 EF15 特殊医疗结算记录 (S2 table 7: 3 bytes, sequence number and settlement type)."""

    seq: int = 0
    settlement: str = ""


class SpecialSettlements(RecordFile[SpecialSettlement]):
    """DF04 EF15 特殊医疗结算记录文件 (S2 table 7: cyclic, at least 8 records, newest first)."""


# DF07, 人事与人才应用数据区 (S2 table 8)


class Honours(TlvFile, path="SSSE/DF07/EF05"):
    """DF07 EF05 荣誉信息 (S2 table 8)."""

    honour_code: str = ""
    honour_level: str = ""
    honour_date: datetime.date | None = None
    medal_code: str = ""
    medal_date: datetime.date | None = None
    extra: Extra = ()


class Expert(TlvFile, path="SSSE/DF07/EF06"):
    """DF07 EF06 专家信息 (S2 table 8)."""

    expert_category: str = ""
    approval_date: datetime.date | None = None
    approving_body: str = ""
    extra: Extra = ()


class MilitaryTransfer(TlvFile, path="SSSE/DF07/EF07"):
    """DF07 EF07 军队转业干部信息 (S2 table 8)."""

    transfer_date: datetime.date | None = None
    placement: str = ""
    extra: Extra = ()


for _fid in range(0x17, 0x1B):
    _path = f"SSSE/DF01/EF{_fid:02X}"
    _mirror(ReservedData, FILE_ITEMS[_path], _path)
    _CONTENT[_path] = ReservedData

CONTENT_TYPES: Mapping[str, type[FileContent]] = MappingProxyType(_CONTENT)
"""The content class of every file that holds data items, by path (built by the classes)."""


def check_one_of(bodies: Mapping[str, bytes]) -> None:
    """Raise :class:`RecordError` naming the files unless a card keeps each
    :data:`~sbkcard.applet_model.data_items.ONE_OF` item in exactly one of its files.

    S2 §7, after table 9: DF02 EF06 and DF03 EF05 hold ``60`` "两处应存在且仅存在其一".
    ``bodies`` are file contents by path; a file missing from it or without records is
    not written yet and may still take the item, so only both holding it, or neither
    when both are written, is an error. A body that is not simple-TLV records is left
    to the card to answer for.
    """
    for rule in ONE_OF:
        tags: dict[str, set[int]] = {}
        for path in rule.paths:
            with contextlib.suppress(RecordError):
                tags[path] = {tag for tag, _ in _split_tlv(path, bodies.get(path, b""))}
        written = [path for path, found in tags.items() if found]
        holders = [path for path in written if rule.tag in tags[path]]
        if len(holders) > 1:
            raise RecordError(
                f"{rule.zh} ('{rule.tag:02X}') is in {' and '.join(holders)}: "
                "S2 §7 keeps it in exactly one of them"
            )
        if not holders and len(written) == len(rule.paths):
            raise RecordError(
                f"{rule.zh} ('{rule.tag:02X}') is in neither {' nor '.join(rule.paths)}: "
                "S2 §7 keeps it in exactly one of them"
            )


def decode_file(path: str, body: bytes, layout: Layout = Layout.V2) -> FileContent:
    """The typed content of the file at ``path`` (e.g. ``"SSSE/DF04/EF05"``)."""
    try:
        cls = CONTENT_TYPES[path]
    except KeyError:
        raise RecordError(f"{path}: no data items are declared for this file") from None
    return cls.decode(body, layout, path=path)


def encode_file(path: str, content: FileContent, layout: Layout = Layout.V2) -> bytes:
    """The bytes of ``content`` as the file at ``path`` stores them."""
    expected = CONTENT_TYPES.get(path)
    if expected is None or not isinstance(content, expected):
        raise RecordError(
            f"{path}: expected {expected.__name__ if expected else 'no content'}, "
            f"got {type(content).__name__}"
        )
    return content.encode(layout, path=path)


# Every content type's VECTORS, one module per DF (assigned once the classes exist).
from sbkcard.applet_model import record_vectors as _record_vectors  # noqa: E402, F401
