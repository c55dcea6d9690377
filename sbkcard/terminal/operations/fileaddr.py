"""File addresses of the national interface: ``SSSEEF05|01|07|$DF01EF0A|37|$`` (S3 §2.1.2).

A file name is the DF (``SSSE`` or ``DFxx``) followed by the EF (``EFxx``); its data items
follow, each ``|``-terminated; every file ends with ``$``.  An item is a record
identifier (the tag, two hex digits), ``tag:n`` for the n-th occurrence of a repeated
item (``40:2``), or, in a cyclic file, a record number.  A file with no items means
"everything" (all records of a cyclic file, the whole of a transparent file).

The output (``pOutInfo``) and the write data (``pWriteData``) have exactly the same
shape with values in place of the items (``DF01EF0A|CHN|$``); a cyclic file's records
are ``|``-separated with their fields ``^``-separated (each field ``^``-terminated).

:func:`parse` reads an address into :class:`FileRequest` values (syntax only: what an
item means depends on the file, which :mod:`sbkcard.terminal.records` knows);
:func:`parse_values` reads write data against an address; :func:`format_values` writes
the output string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sbkcard.terminal.errors import InvalidInputError

_FILE = re.compile(r"^(SSSE|DF[0-9A-F]{2})(EF[0-9A-F]{2})$")
_ITEM = re.compile(r"^(?:([0-9A-F]{2})(?::([0-9]{1,3}))?|[0-9]{1,3})$")


@dataclass(frozen=True)
class ItemRef:
    """One item of a file request: ``tag`` with an optional occurrence (``tag:n``, 1-based).

    In a cyclic file the same text is a record number: :attr:`token` keeps it as written
    (a token that is not two hex digits, such as ``2`` or ``123``, has no ``tag``).
    """

    token: str
    tag: int | None
    occurrence: int | None = None

    @property
    def record_number(self) -> int:
        """The token read as a decimal record number (cyclic files, S3 §2.1.2)."""
        if not self.token.isdigit():
            raise InvalidInputError(f"record number must be decimal, got {self.token!r}")
        number = int(self.token, 10)
        if not 1 <= number <= 254:
            raise InvalidInputError(f"record number {number} out of range 1..254")
        return number


@dataclass(frozen=True)
class FileRequest:
    """One file of an address: ``df`` (``"SSSE"`` or ``"DF01"``…), ``ef`` (``0x05``…), items."""

    df: str
    ef: int
    items: tuple[ItemRef, ...]

    @property
    def name(self) -> str:
        """The file name as the interface writes it (``DF01EF0A``)."""
        return f"{self.df}EF{self.ef:02X}"


def parse(address: str) -> list[FileRequest]:
    """Parse ``pFileAddr``; :class:`InvalidInputError` names the first thing that is wrong."""
    files = _split_files(address, "file address")
    out: list[FileRequest] = []
    for text in files:
        name, *tokens = _split_items(text, "file address")
        df, ef = _file_name(name)
        items = tuple(_item(tok, name) for tok in tokens)
        if len(set(items)) != len(items):
            raise InvalidInputError(f"{name}: an item is named twice")
        out.append(FileRequest(df, ef, items))
    return out


def parse_values(data: str, requests: Sequence[FileRequest]) -> list[list[str]]:
    """The values of ``pWriteData``, one list per file, checked against ``requests``.

    The file names must match the address one for one; a file with items needs one value
    per item; a file without items (cyclic, transparent) takes exactly one value.
    """
    files = _split_files(data, "write data")
    if len(files) != len(requests):
        raise InvalidInputError(
            f"write data names {len(files)} file(s), the address {len(requests)}"
        )
    out: list[list[str]] = []
    for text, request in zip(files, requests, strict=True):
        name, *values = _split_items(text, "write data", allow_empty=True)
        if name != request.name:
            raise InvalidInputError(f"write data names {name}, the address {request.name}")
        expected = len(request.items) or 1
        if len(values) != expected:
            raise InvalidInputError(
                f"{name}: {len(values)} value(s) for {expected} item(s) in the write data"
            )
        out.append(values)
    return out


def format_values(rows: Sequence[tuple[FileRequest, Sequence[str]]]) -> str:
    """``pOutInfo``: each file's name, its values each ``|``-terminated, then ``$``."""
    parts: list[str] = []
    for request, values in rows:
        for value in values:
            if "$" in value or "|" in value:
                raise InvalidInputError(f"{request.name}: value {value!r} contains a separator")
        parts.append(request.name + "|" + "".join(v + "|" for v in values) + "$")
    return "".join(parts)


def format_record(fields: Sequence[str]) -> str:
    """One record of a cyclic file (or one B-TLV group): fields, each ``^``-terminated."""
    return "".join(f + "^" for f in fields)


def parse_record(text: str, where: str) -> list[str]:
    """The fields of one ``^``-terminated record (inverse of :func:`format_record`)."""
    if not text.endswith("^"):
        raise InvalidInputError(f"{where}: a record's last field must end with '^', got {text!r}")
    return text[:-1].split("^")


def _split_files(text: str, what: str) -> list[str]:
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError(f"empty {what}")
    if not stripped.endswith("$"):
        raise InvalidInputError(f"{what} must end with '$': {text!r}")
    return stripped[:-1].split("$")


def _split_items(text: str, what: str, *, allow_empty: bool = False) -> list[str]:
    if not text.endswith("|"):
        raise InvalidInputError(f"{what}: each file must end with '|' before '$': {text!r}")
    parts = text[:-1].split("|")
    if not allow_empty and any(not p for p in parts):
        raise InvalidInputError(f"{what}: empty item in {text!r}")
    return parts


def _file_name(name: str) -> tuple[str, int]:
    match = _FILE.match(name.upper())
    if match is None:
        raise InvalidInputError(f"bad file name {name!r}: expected SSSEEFxx or DFxxEFxx")
    return match.group(1), int(match.group(2)[2:], 16)


def _item(token: str, name: str) -> ItemRef:
    match = _ITEM.match(token.upper())
    if match is None:
        raise InvalidInputError(f"{name}: bad item {token!r}: expected a hex tag or tag:n")
    occurrence = int(match.group(2)) if match.group(2) else None
    if occurrence is not None and occurrence < 1:
        raise InvalidInputError(f"{name}: occurrence in {token!r} starts at 1")
    tag = int(match.group(1), 16) if match.group(1) else None
    return ItemRef(token.upper(), tag, occurrence)
