"""Reading and writing by file address (S3 §2–§3; Part 7 §6–§7).

:func:`read_address` and :func:`write_address` take the national interface's file
addresses (``DF01EF0A|37|$DF04EF05|81|84|$``, see :mod:`sbkcard.terminal.operations.fileaddr`) and
work from the declarations of :mod:`sbkcard.applet_model` (file tree, structures,
access rules, data items):

* each file's access rule is met with the fewest commands
  (:meth:`~sbkcard.terminal.connection.Connection.require`): nothing for a free file,
  the PIN, or an external authentication with the file's key (``prefer`` chooses for
  "PIN or key" files, the iAuthType of iReadCard);
* variable-length record files: one item is one READ RECORD by identifier with SFI
  addressing; several items, or ``tag:n``, are one READ RECORD "P1 to last" when the
  file fits in one response; items the card does not hold read as empty strings;
* on a 1.0x card (S3 §10.2, the version EF05 gave when the session opened) each item is
  read and written as the records codec keeps it there (S2 appendix C, 附表二: the
  item functions of :mod:`sbkcard.applet_model.records`): a reused tag holding its 1.00
  item reads as empty, a new value is ``E``-padded into the old slot, a "定义变更" item
  is written only with a new value of the item it follows, and a value the card
  cannot hold (a resized item's V2.0 length, a ★ item) is
  :class:`~sbkcard.terminal.errors.InvalidInputError`;
* cyclic files: the records asked for (all, newest first, when none is named), each
  record's fields ``^``-separated; transparent files: the whole file in hex;
* writes are UPDATE RECORD / UPDATE BINARY, each **read back and compared** whenever the
  file's read rule can be met without the cardholder (free, a key the security module
  holds, a PIN already verified; otherwise the card's ``9000`` is the confirmation, Part
  7 §7.5, and :attr:`WriteResult.verified` says so): a write the card did not keep is
  :class:`~sbkcard.terminal.errors.WriteNotDoneError`, a card that leaves mid-write is
  :class:`~sbkcard.errors.CardRemovedError` saying the write is not verified.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sbkcard.apdu import builders as b
from sbkcard.apdu.status import SW
from sbkcard.apdu.tlv import parse_simple_tlv
from sbkcard.applet_model.data_items import FILE_ITEMS, DataItem, legacy
from sbkcard.applet_model.records import (
    RecordError,
    encode_sized,
    renewed,
    sized_items,
    stored_length,
    v1_slot,
    v1_value,
)
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.tree import EF, Rule, Structure
from sbkcard.errors import CardRemovedError
from sbkcard.terminal.connection import SSSE, AuthPreference, Connection, decode_records
from sbkcard.terminal.errors import CardStatusError, InvalidInputError, WriteNotDoneError
from sbkcard.terminal.operations import fileaddr
from sbkcard.terminal.operations.fileaddr import FileRequest, ItemRef
from sbkcard.terminal.operations.values import item_bytes, item_text

MAX_RESPONSE = 256
BINARY_CHUNK = 0xF0


@dataclass(frozen=True)
class FileValues:
    """The values read from (or written to) one file, in the order of the request."""

    request: FileRequest
    path: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ReadResult:
    """What :func:`read_address` read; :meth:`national` is iReadCard's ``pOutInfo``."""

    files: tuple[FileValues, ...]

    def national(self) -> str:
        """The output string, shaped exactly like the address (S3 §2.1.2 (5))."""
        return fileaddr.format_values([(f.request, f.values) for f in self.files])


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_address` wrote; ``verified`` names the files read back.

    A file whose read rule the terminal cannot meet without the cardholder (a PIN it
    was not given, a key without a security module) is confirmed by the card's
    ``9000`` only (Part 7 §7.5) and left out of ``verified``.
    """

    files: tuple[FileValues, ...]
    verified: tuple[str, ...]


def _path(request: FileRequest) -> str:
    ef = f"EF{request.ef:02X}"
    return f"{SSSE}/{ef}" if request.df == SSSE else f"{SSSE}/{request.df}/{ef}"


@dataclass(frozen=True)
class _File:
    """A requested file as the card's layout keeps it (S3 §10.2; S2 appendix C, 附表二)."""

    ef: EF
    path: str
    layout: Layout
    items: tuple[DataItem, ...]
    """The items at the lengths the card keeps them (:func:`sized_items`)."""
    full: tuple[DataItem, ...]
    """The items as V2.0 declares them."""

    def length(self, item: DataItem) -> int:
        """The longest value the card keeps in record ``item`` (its 1.00 slot, …)."""
        return stored_length(self.path, item, self.layout)

    def records_length(self) -> int:
        """The length of all records (Le of a "P1 to last" read)."""
        return sum((2 + self.length(it)) * it.repeat for it in self.items if it.tag is not None)


def _declared(conn: Connection, request: FileRequest) -> _File:
    ef = conn.ef(request.df, request.ef)
    if ef.structure is Structure.PURSE or ef.sfi is None:
        raise InvalidInputError(f"{request.name} is not addressable by the reader interface")
    path = _path(request)
    full = FILE_ITEMS[path]
    items = tuple(sized_items(path, full, conn.layout))
    return _File(ef, path, conn.layout, items, full)


def _item(items: tuple[DataItem, ...], ref: ItemRef, name: str) -> DataItem:
    for item in items:
        if item.tag is not None and item.tag == ref.tag:
            if ref.occurrence is not None and ref.occurrence > item.repeat:
                raise InvalidInputError(
                    f"{name}: {item.label} occurs at most {item.repeat} time(s), not "
                    f"{ref.occurrence}"
                )
            return item
    raise InvalidInputError(f"{name}: no data item {ref.token} in this file")


# -- reading --------------------------------------------------------------------------------


def read_address(
    conn: Connection, address: str, *, prefer: AuthPreference = AuthPreference.PIN
) -> ReadResult:
    """Read every item of ``address`` (see the module docstring)."""
    out: list[FileValues] = []
    for request in fileaddr.parse(address):
        file = _declared(conn, request)
        if file.ef.read.rule is Rule.NEVER:
            raise InvalidInputError(f"{request.name} cannot be read")
        conn.select(request.df)
        conn.require(file.ef.read, prefer)
        with conn.card.during(f"reading {request.name}"):
            values = _read_file(conn, request, file)
        out.append(FileValues(request, _path(request), tuple(values)))
    return ReadResult(tuple(out))


def _read_file(conn: Connection, request: FileRequest, file: _File) -> list[str]:
    ef, items = file.ef, file.items
    sfi = ef.sfi or 0
    if ef.structure is Structure.TRANSPARENT:
        if request.items:
            raise InvalidInputError(f"{request.name} is transparent: name the file only")
        return [_read_binary(conn, sfi, ef.size).hex().upper()]
    if ef.structure is Structure.CYCLIC:
        numbers = [ref.record_number for ref in request.items]
        return [fileaddr.format_record(r) for r in read_cyclic(conn, sfi, ef, items, numbers)]
    refs = list(request.items) or [
        ItemRef(f"{it.tag:02X}" if n == 1 else f"{it.tag:02X}:{n}", it.tag, None if n == 1 else n)
        for it in items
        if it.tag is not None
        for n in range(1, it.repeat + 1)
    ]
    wanted = [(_item(items, ref, request.name), ref.occurrence or 1) for ref in refs]
    fetch = wanted + [(leader, 1) for leader in _leaders(file, wanted) if (leader, 1) not in wanted]
    single = len(fetch) == 1 and fetch[0][1] == 1
    length = file.records_length()
    if single or length > MAX_RESPONSE:
        found: dict[tuple[int, int], bytes | None] = {
            (it.tag or 0, n): _read_occurrence(conn, sfi, it, n, file.length(it)) for it, n in fetch
        }
    else:
        data = conn.read_all_records(
            sfi, items, f"READ RECORD {request.name}", le=min(max(length, 1), MAX_RESPONSE)
        )
        found = dict(decode_records(data))
    return [_value_text(file, found, it, n) for it, n in wanted]


def _leaders(file: _File, wanted: Sequence[tuple[DataItem, int]]) -> list[DataItem]:
    """On a 1.0x card, the items whose records tell what the ``wanted`` "定义变更" items
    hold (S2 appendix C: "通过'38'进行判断")."""
    if file.layout is not Layout.V1:
        return []
    tags = {old.follows for it, _ in wanted if (old := legacy(file.path, it.tag)) is not None}
    return [it for it in file.items if it.tag in tags]


def _value_text(
    file: _File, found: dict[tuple[int, int], bytes | None], item: DataItem, occurrence: int
) -> str:
    """The text of ``item`` read as ``found``: on a 1.0x card a reused tag holding its
    1.00 item reads as empty, like an item the card does not hold (S2 appendix C)."""
    value = found.get((item.tag or 0, occurrence))
    if value is not None and file.layout is Layout.V1:
        news = {
            tag for (tag, _), v in found.items() if v is not None and renewed(file.path, tag, v)
        }
        value = v1_value(file.path, item, value, news)
    return "" if value is None else item_text(item, value)


def _read_occurrence(
    conn: Connection, sfi: int, item: DataItem, occurrence: int, length: int
) -> bytes | None:
    """The value of the ``occurrence``-th record ``item.tag`` (None if the card has none);
    ``length`` is the longest value the card keeps there."""
    assert item.tag is not None
    mode = b.RecordMode.FIRST_OCCURRENCE
    value: bytes | None = None
    for _ in range(occurrence):
        command = b.read_record(item.tag, sfi=sfi, mode=mode, le=2 + length)
        response = conn.card.send(command)
        if response.sw == SW.RECORD_NOT_FOUND:
            return None
        if response.sw != SW.OK:
            raise CardStatusError(response.sw, f"READ RECORD {item.label}")
        value = decode_records(response.data).get((item.tag, 1), b"")
        mode = b.RecordMode.NEXT_OCCURRENCE
    return value


def read_cyclic(
    conn: Connection, sfi: int, ef: EF, items: tuple[DataItem, ...], numbers: Sequence[int]
) -> list[list[str]]:
    """Records of a cyclic file as field texts: ``numbers`` (1 = newest), or every record."""
    out: list[list[str]] = []
    for number in numbers or range(1, ef.records + 1):
        raw = _read_record_number(conn, sfi, number, ef.record_length)
        if raw is None:
            if numbers:
                raise CardStatusError(SW.RECORD_NOT_FOUND, f"READ RECORD {number} of EF{sfi:02X}")
            break
        out.append(split_fields(items, raw))
    return out


def split_fields(items: tuple[DataItem, ...], raw: bytes) -> list[str]:
    """The positional fields of one fixed-length record, as texts."""
    fields, offset = [], 0
    for item in items:
        fields.append(item_text(item, raw[offset : offset + item.length]))
        offset += item.length
    return fields


def _read_record_number(conn: Connection, sfi: int, number: int, length: int) -> bytes | None:
    response = conn.card.send(b.read_record(number, sfi=sfi, le=min(length, MAX_RESPONSE)))
    if response.sw == SW.RECORD_NOT_FOUND:
        return None
    if response.sw != SW.OK:
        raise CardStatusError(response.sw, f"READ RECORD {number}")
    return response.data


def _read_binary(conn: Connection, sfi: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        le = min(MAX_RESPONSE, size - len(data))
        if not data:
            command = b.read_binary(sfi=sfi, le=le)
        else:
            command = b.read_binary(offset=len(data), le=le)
        data += conn.card.call(command, f"READ BINARY at {len(data)}")
    return data


# -- writing --------------------------------------------------------------------------------


def write_address(conn: Connection, address: str, data: str) -> WriteResult:
    """Write ``data`` (shaped like ``address``), reading each file back where possible."""
    requests = fileaddr.parse(address)
    all_values = fileaddr.parse_values(data, requests)
    out: list[FileValues] = []
    verified: list[str] = []
    for request, values in zip(requests, all_values, strict=True):
        file = _declared(conn, request)
        if file.ef.write.rule is Rule.NEVER:
            raise InvalidInputError(f"{request.name} is written by the card's COS only")
        conn.select(request.df)
        conn.require(file.ef.write)
        check = conn.can_meet(file.ef.read)
        try:
            with conn.card.during(f"writing {request.name}"):
                _write_file(conn, request, file, values, check)
        except CardRemovedError as exc:
            raise CardRemovedError(
                f"{exc}; the write of {request.name} is not verified: re-insert the card and "
                "read the file back"
            ) from exc
        out.append(FileValues(request, _path(request), tuple(values)))
        if check:
            verified.append(request.name)
    return WriteResult(tuple(out), tuple(verified))


def _write_file(
    conn: Connection, request: FileRequest, file: _File, values: list[str], check: bool
) -> None:
    """Write one file's values; read each back when ``check`` (the read rule is met)."""
    ef, items = file.ef, file.items
    sfi = ef.sfi or 0
    if check:
        conn.require(ef.read, AuthPreference.KEY)
    if ef.structure is Structure.TRANSPARENT:
        (text,) = values
        if request.items:
            raise InvalidInputError(f"{request.name} is transparent: name the file only")
        _write_binary(conn, sfi, item_bytes(items[0], text), check)
        return
    if ef.structure is Structure.CYCLIC:
        (text,) = values
        fields = fileaddr.parse_record(text, request.name)
        if len(fields) != len(items):
            raise InvalidInputError(
                f"{request.name}: a record has {len(items)} fields, got {len(fields)}"
            )
        record = b"".join(item_bytes(it, v) for it, v in zip(items, fields, strict=True))
        append_cyclic(conn, sfi, record, request.name, check)
        return
    if not request.items:
        raise InvalidInputError(f"{request.name}: name the items to write")
    chosen = [_item(items, ref, request.name) for ref in request.items]
    encoded = [
        _card_value(conn, request, file, item, text, chosen, readable=check)
        for item, text in zip(chosen, values, strict=True)
    ]
    for ref, item, value in zip(request.items, chosen, encoded, strict=True):
        _write_item(conn, sfi, ef, item, ref.occurrence or 1, value, check)


def _card_value(
    conn: Connection,
    request: FileRequest,
    file: _File,
    item: DataItem,
    text: str,
    written: Sequence[DataItem],
    *,
    readable: bool,
) -> bytes:
    """The value bytes of ``text`` as the card keeps ``item``.

    On a 1.0x card (S2 appendix C, 附表二): at the 1.00 length of a resized item, ``E``-padded
    into the 1.00 slot of a reused tag, a "定义变更" item only beside a new value of the
    item it follows (in ``written``, or on the card when the file is ``readable``); no ★
    item.
    """
    full = file.full[file.items.index(item)]
    try:
        raw = encode_sized(file.path, item, full, functools.partial(item_bytes, text=text))
        if file.layout is not Layout.V1:
            return raw
        old = legacy(file.path, item.tag)
        if old is None and item.added:
            raise RecordError(f"{item} is a ★ item of V2.0: a 1.0x card has no record for it")
        if old is not None and old.follows is not None:
            (leader,) = (it for it in file.items if it.tag == old.follows)
            if leader not in written and not (readable and _renewed_on_card(conn, file, leader)):
                raise RecordError(
                    f"{item}: on a 1.0x card this record holds V2.0's item only when "
                    f"{leader} does (S2 appendix C): write {leader.label} with it"
                )
        return v1_slot(file.path, item, raw)
    except RecordError as exc:
        raise InvalidInputError(f"{request.name}: {exc}") from None


def _renewed_on_card(conn: Connection, file: _File, item: DataItem) -> bool:
    assert item.tag is not None
    value = _read_occurrence(conn, file.ef.sfi or 0, item, 1, file.length(item))
    return value is not None and renewed(file.path, item.tag, value)


def _write_item(
    conn: Connection,
    sfi: int,
    ef: EF,
    item: DataItem,
    occurrence: int,
    value: bytes,
    check: bool,
) -> None:
    assert item.tag is not None
    record = bytes([item.tag, len(value)]) + value
    label = f"{item.label}" + (f":{occurrence}" if occurrence > 1 else "")
    if occurrence == 1 and ef.structure is Structure.LINEAR_VARIABLE:
        mode, p1 = b.RecordMode.FIRST_OCCURRENCE, item.tag
    else:
        mode, p1 = b.RecordMode.RECORD, _record_number(conn, sfi, ef, item, occurrence)
    conn.card.call(b.update_record(p1, record, sfi=sfi, mode=mode), f"UPDATE RECORD {label}")
    if not check:
        return
    if mode is b.RecordMode.FIRST_OCCURRENCE:
        back = _read_occurrence(conn, sfi, item, 1, len(value))
        kept = back == value
    else:
        kept = _read_record_number(conn, sfi, p1, len(record)) == record
    if not kept:
        raise WriteNotDoneError(
            f"EF{sfi:02X} item {label}: the card does not hold what was written"
        )


def _record_number(conn: Connection, sfi: int, ef: EF, item: DataItem, occurrence: int) -> int:
    """The record number holding the ``occurrence``-th ``item`` (or the next free one)."""
    if ef.structure is Structure.LINEAR_FIXED:
        return occurrence
    data = conn.read_all_records(sfi, (), f"READ RECORD EF{sfi:02X}", le=MAX_RESPONSE)
    records = parse_simple_tlv(data, allow_padding=True)
    seen = 0
    for number, (tag, _value) in enumerate(records, 1):
        if tag == item.tag:
            seen += 1
            if seen == occurrence:
                return number
    if seen + 1 < occurrence:
        raise InvalidInputError(
            f"{item.label}:{occurrence}: the card holds {seen} occurrence(s); write "
            f"{item.label}:{seen + 1} first"
        )
    return len(records) + 1


def append_cyclic(conn: Connection, sfi: int, record: bytes, name: str, check: bool) -> None:
    """Add a record to a cyclic file (it becomes record 1); read it back when ``check``."""
    conn.card.call(
        b.update_record(0, record, sfi=sfi, mode=b.RecordMode.PREVIOUS_OCCURRENCE),
        f"UPDATE RECORD (append) {name}",
    )
    if check and _read_record_number(conn, sfi, 1, len(record)) != record:
        raise WriteNotDoneError(f"{name}: the newest record is not the one written")


def _write_binary(conn: Connection, sfi: int, data: bytes, check: bool) -> None:
    for offset in range(0, len(data), BINARY_CHUNK):
        chunk = data[offset : offset + BINARY_CHUNK]
        command = (
            b.update_binary(chunk, sfi=sfi)
            if offset == 0
            else b.update_binary(chunk, offset=offset)
        )
        conn.card.call(command, f"UPDATE BINARY at {offset}")
    if check and _read_binary(conn, sfi, len(data)) != data:
        raise WriteNotDoneError(f"EF{sfi:02X}: the file does not hold what was written")
