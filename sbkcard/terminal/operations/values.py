"""Data items as the national interface writes them (S3 §2.1.2, §3.1.2; S2 §7).

The reader interface passes every value as text: ``an`` items as their text (GBK on the
card, 00-padding removed), ``cn`` items as their digits (F-padding removed, so an empty
date is the empty string), binary amounts and sequence numbers in decimal, other binary
items in upper-case hex, the card identification code as its 32 hex characters, and a
B-TLV group as its members each ``^``-terminated (the cyclic-record convention of
S3 §2.1.2; the standard gives no separate form for groups).

:func:`item_text` and :func:`item_bytes` convert one item each way, driven by the
declaration (:class:`~sbkcard.applet_model.data_items.DataItem`: format, length, kind).
"""

from __future__ import annotations

from sbkcard.apdu.tlv import build_simple_tlv, parse_simple_tlv
from sbkcard.applet_model.data_items import DataItem, Kind
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.formats import decode_an, decode_cn, encode_an, encode_cn
from sbkcard.terminal.errors import InvalidInputError
from sbkcard.terminal.operations.fileaddr import format_record, parse_record


def item_text(item: DataItem, raw: bytes) -> str:
    """The interface's text for ``item`` holding ``raw`` (the value bytes, no tag/length)."""
    match item.kind:
        case Kind.TEXT:
            return decode_an(raw, field=item.field)
        case Kind.DIGITS | Kind.DATE | Kind.DATETIME:
            return decode_cn(raw, field=item.field)
        case Kind.AMOUNT:
            return str(int.from_bytes(raw))
        case Kind.GROUP:
            found = dict(parse_simple_tlv(raw, allow_padding=True))
            return format_record(
                [item_text(m, found[m.tag]) if m.tag in found else "" for m in item.members]
            )
        case Kind.CARD_ID | Kind.BYTES:
            return raw.hex().upper()
    raise AssertionError(item.kind)


def item_bytes(item: DataItem, text: str) -> bytes:
    """The value bytes for ``text`` (inverse of :func:`item_text`); names the bad field."""
    try:
        match item.kind:
            case Kind.TEXT:
                return encode_an(text, item.length, field=item.field)
            case Kind.DIGITS | Kind.DATE | Kind.DATETIME:
                return encode_cn(text, item.length, field=item.field)
            case Kind.AMOUNT:
                if not text.isdigit():
                    raise InvalidInputError(f"{item.field}: {text!r} is not a decimal number")
                return int(text).to_bytes(item.length)
            case Kind.GROUP:
                values = parse_record(text, item.field)
                if len(values) != len(item.members):
                    raise InvalidInputError(
                        f"{item.field}: {len(item.members)} fields expected, got {len(values)}"
                    )
                return b"".join(
                    build_simple_tlv(m.tag or 0, item_bytes(m, v))
                    for m, v in zip(item.members, values, strict=True)
                )
            case Kind.CARD_ID | Kind.BYTES:
                raw = bytes.fromhex(text)
                if len(raw) != item.length:
                    raise InvalidInputError(
                        f"{item.field}: {item.length} bytes expected, got {len(raw)}"
                    )
                return raw
    except (ValueError, OverflowError, SbkcardError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"{item.field}: cannot write {text!r}: {exc}") from exc
    raise AssertionError(item.kind)
