"""Records inside a stored EF: splitting, addressing, updating (Part 3 §5.3; Part 5 §6.10, §6.13).

A variable-length record file stores its records' simple-TLV encodings back to back
(each record is one ``tag len value``; the tag is the record identifier); fixed and
cyclic files store ``record_length``-byte records, a cyclic file newest first, so that
list index 0 is always record number 1 (the first logical position).
"""

from __future__ import annotations

from sbkcard.applet_model.tree import Structure

__all__ = ["FIRST", "LAST", "NEXT", "PREVIOUS", "find", "join", "split", "valid_tlv_record"]

FIRST, LAST, NEXT, PREVIOUS = 0, 1, 2, 3
"""Occurrence modes of P2 b3–b1 for a record identifier (Part 5 tables 32, 44)."""


def split(structure: Structure, record_length: int, body: bytes) -> list[bytes]:
    """The records of ``body`` in logical order (record #1 first)."""
    if structure is Structure.LINEAR_VARIABLE:
        records = []
        i, n = 0, len(body)
        while i < n:
            end = i + 2 + body[i + 1]
            records.append(body[i:end])
            i = end
        return records
    return [body[i : i + record_length] for i in range(0, len(body), record_length)]


def join(records: list[bytes]) -> bytes:
    """The stored form of ``records``."""
    return b"".join(records)


def find(records: list[bytes], ident: int, mode: int, pointer: int | None) -> int | None:
    """Index of the record with identifier ``ident`` (``00``: any) for occurrence ``mode``.

    Part 3 §5.3.1: next from no current record is the first, previous from none the
    last; otherwise the nearest match after (before) the current record.
    """
    n = len(records)
    if mode == FIRST or (mode == NEXT and pointer is None):
        candidates: range = range(n)
    elif mode == LAST or (mode == PREVIOUS and pointer is None):
        candidates = range(n - 1, -1, -1)
    elif mode == NEXT:
        assert pointer is not None
        candidates = range(pointer + 1, n)
    else:
        assert pointer is not None
        candidates = range(pointer - 1, -1, -1)
    for i in candidates:
        if ident == 0 or records[i][0] == ident:
            return i
    return None


def valid_tlv_record(data: bytes) -> bool:
    """Whether ``data`` is exactly one simple-TLV record with a 1-byte length."""
    return len(data) >= 2 and data[0] not in (0x00, 0xFF) and data[1] == len(data) - 2
