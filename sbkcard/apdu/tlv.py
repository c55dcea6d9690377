"""Simple-TLV records and BER-TLV objects (Part 3 §5.3.1; ISO 7816-4 §5.2).

Records in the card's record files are simple-TLV: ``tag(1) len(1) value``, the tag
being the record identifier.  ISO 7816-4 also allows a three-byte length ``FF hh ll``;
both forms are read, the short one is written whenever it fits.

The FCI returned on SELECT is BER-TLV, e.g. the SSSE's
``6F 1C 84 0F <AID> A5 09 88 01 1E 9F 0C 03 86 01 03``: multi-byte tags (``9F0C``),
constructed objects (``6F``, ``A5``), lengths in short or long form (``81 xx``, ``82 xx xx``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sbkcard.apdu.errors import TlvError

# -- simple-TLV ------------------------------------------------------------------------

_PADDING = (0x00, 0xFF)


def build_simple_tlv(tag: int, value: bytes) -> bytes:
    """Encode one simple-TLV record ``tag len value`` (tag 01..FE, value ≤ 65535 bytes)."""
    if not 0x01 <= tag <= 0xFE:
        raise TlvError(f"simple-TLV tag must be 01..FE, got {tag:#04x}")
    n = len(value)
    if n < 0xFF:
        return bytes((tag, n)) + value
    if n <= 0xFFFF:
        return bytes((tag, 0xFF)) + n.to_bytes(2, "big") + value
    raise TlvError(f"simple-TLV value of {n} bytes exceeds 65535")


def build_simple_tlvs(records: Iterable[tuple[int, bytes]]) -> bytes:
    """Concatenate the encodings of several records."""
    return b"".join(build_simple_tlv(tag, value) for tag, value in records)


def iter_simple_tlv(
    data: bytes, *, allow_padding: bool = False, offset: int = 0
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(tag, value)`` for each record of ``data``.

    With ``allow_padding``, a trailing run of ``00`` or ``FF`` bytes (unused space of a
    file) ends the list instead of raising.  ``offset`` is added to error offsets.
    """
    i, n = 0, len(data)
    while i < n:
        tag = data[i]
        if tag in _PADDING:
            if allow_padding and all(b == tag for b in data[i:]):
                return
            raise TlvError(f"simple-TLV tag {tag:02X} is not allowed", offset + i)
        if i + 1 >= n:
            raise TlvError(f"record {tag:02X} has no length byte", offset + i + 1)
        length, start = data[i + 1], i + 2
        if length == 0xFF:
            if i + 4 > n:
                raise TlvError(f"record {tag:02X}: three-byte length truncated", offset + i + 1)
            length, start = int.from_bytes(data[i + 2 : i + 4]), i + 4
        end = start + length
        if end > n:
            raise TlvError(
                f"record {tag:02X} announces {length} value bytes but only {n - start} follow",
                offset + i + 1,
            )
        yield tag, data[start:end]
        i = end


def parse_simple_tlv(data: bytes, *, allow_padding: bool = False) -> list[tuple[int, bytes]]:
    """Decode concatenated simple-TLV records (e.g. a READ RECORD of a whole file)."""
    return list(iter_simple_tlv(data, allow_padding=allow_padding))


def find_simple_tlv(data: bytes, tag: int, *, allow_padding: bool = False) -> bytes | None:
    """The value of the first record with ``tag`` in ``data``, or ``None``."""
    for t, value in iter_simple_tlv(data, allow_padding=allow_padding):
        if t == tag:
            return value
    return None


# -- BER-TLV ---------------------------------------------------------------------------


def encode_tag(tag: int) -> bytes:
    """The bytes of a BER tag given as an int (``0x9F0C`` → ``9F 0C``), checked for form."""
    if tag < 0:
        raise TlvError(f"BER tag must be positive, got {tag}")
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    if len(raw) > 4:
        raise TlvError(f"BER tag {tag:#x} is longer than 4 bytes")
    first, rest = raw[0], raw[1:]
    if first in _PADDING:
        raise TlvError(f"BER tag {tag:#x}: a first byte {first:02X} is padding, not a tag")
    if first & 0x1F != 0x1F:
        if rest:
            raise TlvError(f"BER tag {tag:#x}: first byte {first:02X} announces a 1-byte tag")
        return raw
    if not rest:
        raise TlvError(f"BER tag {tag:#x}: first byte {first:02X} needs subsequent bytes")
    if any(b & 0x80 == 0 for b in rest[:-1]) or rest[-1] & 0x80:
        raise TlvError(f"BER tag {tag:#x}: only the last subsequent byte has b8 = 0")
    return raw


def encode_length(length: int) -> bytes:
    """BER length: short form below 128, else ``81``–``84`` and 1–4 bytes."""
    if length < 0:
        raise TlvError(f"BER length must be positive, got {length}")
    if length < 0x80:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > 4:
        raise TlvError(f"BER length {length} needs more than 4 bytes")
    return bytes((0x80 | len(raw),)) + raw


def tag_is_constructed(tag: int) -> bool:
    """b6 of the first tag byte: the value is itself BER-TLV."""
    first = encode_tag(tag)[0]
    return bool(first & 0x20)


@dataclass(frozen=True, slots=True)
class BerTlv:
    """One BER-TLV object; a constructed object's value holds its children's encodings."""

    tag: int
    value: bytes = b""

    def __post_init__(self) -> None:
        encode_tag(self.tag)
        if not isinstance(self.value, bytes):
            raise TlvError(f"value must be bytes, got {type(self.value).__name__}")

    @classmethod
    def of(cls, tag: int, *children: BerTlv) -> BerTlv:
        """A constructed object holding ``children`` in order."""
        if not tag_is_constructed(tag):
            raise TlvError(f"tag {tag:X} is primitive: it cannot hold children")
        return cls(tag, b"".join(bytes(c) for c in children))

    @property
    def constructed(self) -> bool:
        """Whether the tag marks a constructed object."""
        return tag_is_constructed(self.tag)

    @property
    def children(self) -> tuple[BerTlv, ...]:
        """The objects inside a constructed object (its value, decoded)."""
        if not self.constructed:
            raise TlvError(f"tag {self.tag:X} is primitive: it has no children")
        return tuple(parse_ber_tlv(self.value))

    def find(self, tag: int) -> BerTlv | None:
        """The first object with ``tag`` among the descendants (depth first), or ``None``."""
        if not self.constructed:
            return None
        return find_ber_tlv(self.value, tag)

    def __bytes__(self) -> bytes:
        return encode_tag(self.tag) + encode_length(len(self.value)) + self.value

    def __repr__(self) -> str:
        return f"BerTlv(tag=0x{self.tag:X}, value=bytes.fromhex('{self.value.hex().upper()}'))"


def _read_tag(data: bytes, i: int, offset: int) -> tuple[int, int]:
    n = len(data)
    start = i
    first = data[i]
    i += 1
    if first & 0x1F == 0x1F:
        while True:
            if i >= n:
                raise TlvError("tag truncated: a subsequent tag byte is missing", offset + i)
            b = data[i]
            i += 1
            if i - start > 4:
                raise TlvError("tag longer than 4 bytes", offset + start)
            if not b & 0x80:
                break
    return int.from_bytes(data[start:i]), i


def _read_length(data: bytes, i: int, offset: int) -> tuple[int, int]:
    n = len(data)
    if i >= n:
        raise TlvError("length missing after the tag", offset + i)
    first = data[i]
    i += 1
    if first < 0x80:
        return first, i
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length (80) is not allowed", offset + i - 1)
    if count > 4:
        raise TlvError(
            f"length byte {first:02X} announces {count} length bytes (max 4)", offset + i - 1
        )
    if i + count > n:
        raise TlvError(f"long-form length truncated: {n - i} of {count} bytes", offset + i)
    return int.from_bytes(data[i : i + count]), i + count


def iter_ber_tlv(data: bytes, *, offset: int = 0, recursive: bool = True) -> Iterator[BerTlv]:
    """Yield the objects of ``data``, skipping ``00``/``FF`` padding between them.

    With ``recursive``, constructed values are checked too, so that errors surface here
    with their absolute offset.  ``offset`` is added to error offsets.
    """
    i, n = 0, len(data)
    while i < n:
        if data[i] in _PADDING:
            i += 1
            continue
        tag, j = _read_tag(data, i, offset)
        length, start = _read_length(data, j, offset)
        end = start + length
        if end > n:
            raise TlvError(
                f"tag {tag:X} announces {length} value bytes but only {n - start} follow",
                offset + j,
            )
        obj = BerTlv(tag, data[start:end])
        if recursive and obj.constructed:
            for _ in iter_ber_tlv(obj.value, offset=offset + start):
                pass
        yield obj
        i = end


def parse_ber_tlv(data: bytes) -> list[BerTlv]:
    """Decode concatenated BER-TLV objects (checking constructed ones all the way down)."""
    return list(iter_ber_tlv(data))


def find_ber_tlv(data: bytes, tag: int) -> BerTlv | None:
    """The first object with ``tag`` in ``data`` or inside its constructed objects."""
    for obj in iter_ber_tlv(data, recursive=False):
        if obj.tag == tag:
            return obj
        if obj.constructed:
            inner = find_ber_tlv(obj.value, tag)
            if inner is not None:
                return inner
    return None


def build_ber_tlv(tag: int, value: bytes) -> bytes:
    """Encode one BER-TLV object."""
    return bytes(BerTlv(tag, value))
