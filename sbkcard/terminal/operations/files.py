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

from collections.abc import Sequence
from dataclasses import dataclass

from sbkcard.apdu import builders as b
from sbkcard.apdu.status import SW
from sbkcard.apdu.tlv import parse_simple_tlv
from sbkcard.applet_model.data_items import FILE_ITEMS, DataItem
from sbkcard.applet_model.tree import EF, Rule, Structure
from sbkcard.errors import CardRemovedError
from sbkcard.terminal.connection import (
    SSSE,
    AuthPreference,
    Connection,
    decode_records,
    records_length,
)
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


def _declared(conn: Connection, request: FileRequest) -> tuple[EF, tuple[DataItem, ...]]:
    ef = conn.ef(request.df, request.ef)
    if ef.structure is Structure.PURSE or ef.sfi is None:
        raise InvalidInputError(f"{request.name} is not addressable by the reader interface")
    return ef, FILE_ITEMS[_path(request)]


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
        ef, items = _declared(conn, request)
        if ef.read.rule is Rule.NEVER:
            raise InvalidInputError(f"{request.name} cannot be read")
        conn.select(request.df)
        conn.require(ef.read, prefer)
        with conn.card.during(f"reading {request.name}"):
            values = _read_file(conn, request, ef, items)
        out.append(FileValues(request, _path(request), tuple(values)))
    return ReadResult(tuple(out))


def _read_file(
    conn: Connection, request: FileRequest, ef: EF, items: tuple[DataItem, ...]
) -> list[str]:
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
    single = len(wanted) == 1 and wanted[0][1] == 1
    if single or records_length(items) > MAX_RESPONSE:
        found: dict[tuple[int, int], bytes | None] = {
            (it.tag or 0, n): _read_occurrence(conn, sfi, it, n) for it, n in wanted
        }
    else:
        found = dict(
            decode_records(conn.read_all_records(sfi, items, f"READ RECORD {request.name}"))
        )
    return [
        "" if (value := found.get((it.tag or 0, n))) is None else item_text(it, value)
        for it, n in wanted
    ]


def _read_occurrence(conn: Connection, sfi: int, item: DataItem, occurrence: int) -> bytes | None:
    """The value of the ``occurrence``-th record ``item.tag`` (None if the card has none)."""
    assert item.tag is not None
    mode = b.RecordMode.FIRST_OCCURRENCE
    value: bytes | None = None
    for _ in range(occurrence):
        command = b.read_record(item.tag, sfi=sfi, mode=mode, le=item.tlv_size)
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
        ef, items = _declared(conn, request)
        if ef.write.rule is Rule.NEVER:
            raise InvalidInputError(f"{request.name} is written by the card's COS only")
        conn.select(request.df)
        conn.require(ef.write)
        check = conn.can_meet(ef.read)
        try:
            with conn.card.during(f"writing {request.name}"):
                _write_file(conn, request, ef, items, values, check)
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
    conn: Connection,
    request: FileRequest,
    ef: EF,
    items: tuple[DataItem, ...],
    values: list[str],
    check: bool,
) -> None:
    """Write one file's values; read each back when ``check`` (the read rule is met)."""
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
    for ref, text in zip(request.items, values, strict=True):
        item = _item(items, ref, request.name)
        _write_item(conn, sfi, ef, item, ref.occurrence or 1, item_bytes(item, text), check)


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
        back = _read_occurrence(conn, sfi, item, 1)
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
