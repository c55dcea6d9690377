"""The exchanged file: encrypted to its recipient, signed by its sender (Part 10 §5.3.3, §6.2.1).

Personalisation data travels from issuer to bureau, the result back, in one format::

    "SBKXCHG1" ‖ u32 n ‖ header (JSON, n bytes)
    ‖ { u32 n ‖ part (n bytes, AES-256-GCM) }…  ‖ u32 0
    ‖ u32 n ‖ trailer (JSON) ‖ u32 n ‖ signature (RSA-PSS over SHA-256 of all before it)

The header names the kind of file, a random file id, sender and recipient by key
fingerprint, and carries the file's content key encrypted to the recipient
(:meth:`~.parties.PublicParty.wrap`) and the sender's metadata. Part *i* is encrypted
with nonce ``0⁴ ‖ i`` and associated data ``SHA-256(header) ‖ i``, so parts can be
neither moved nor swapped between files; the trailer counts them and the signature
covers everything. Parts are written and read one at a time: memory stays flat
whatever the file's size.

:func:`open_sealed` refuses, each with its own message, a file that is not one, one of
the wrong kind, one addressed to another key (wrong recipient), one signed by a
stranger, a truncated one and a tampered one, before a single part is decrypted.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import struct
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sbkcard.issuance.exchange.parties import ExchangeError, PartyKeys, PublicParty

__all__ = ["MAGIC", "SealedFile", "SealedWriter", "open_sealed"]

MAGIC = b"SBKXCHG1"
FORMAT = "sbkcard-exchange"
VERSION = 1
_U32 = struct.Struct(">I")
_MAX_FIELD = 1 << 30
_READ = 1 << 20


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _nonce(index: int) -> bytes:
    return bytes(4) + index.to_bytes(8, "big")


class SealedWriter:
    """Write one exchanged file part by part; it appears at ``path`` only when finished."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str,
        sender: PartyKeys,
        recipient: PublicParty,
        meta: Mapping[str, Any],
    ) -> None:
        self.path = Path(path)
        self.file_id = uuid.uuid4().hex
        self._sender = sender
        self._key = AESGCM.generate_key(bit_length=256)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "kind": kind,
            "file_id": self.file_id,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "sender": {"name": sender.name, "fingerprint": sender.public.fingerprint},
            "recipient": {"name": recipient.name, "fingerprint": recipient.fingerprint},
            "content_key": base64.b64encode(recipient.wrap(self._key)).decode("ascii"),
            "meta": dict(meta),
        }
        self._header = _canonical(header)
        self._aad = hashlib.sha256(self._header).digest()
        self._hash = hashlib.sha256()
        self._parts = 0
        self._bytes = 0
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent or ".")
        except OSError as exc:
            raise ExchangeError(f"{path}: cannot write ({exc.strerror})") from None
        self._tmp = Path(tmp)
        self._out: IO[bytes] = os.fdopen(fd, "wb")
        self._emit(MAGIC + _U32.pack(len(self._header)) + self._header)

    def _emit(self, data: bytes) -> None:
        self._hash.update(data)
        self._out.write(data)

    def write_part(self, plain: bytes) -> None:
        """Encrypt and append one part (non-empty)."""
        if not plain:
            raise ExchangeError("an exchange file part cannot be empty")
        aad = self._aad + self._parts.to_bytes(8, "big")
        sealed = AESGCM(self._key).encrypt(_nonce(self._parts), plain, aad)
        self._emit(_U32.pack(len(sealed)) + sealed)
        self._parts += 1
        self._bytes += len(plain)

    def finish(self, **trailer: Any) -> str:
        """Write trailer and signature, move the file into place; the file id."""
        body = _canonical({"parts": self._parts, "bytes": self._bytes, **trailer})
        self._emit(_U32.pack(0) + _U32.pack(len(body)) + body)
        signature = self._sender.sign(self._hash.digest())
        self._out.write(_U32.pack(len(signature)) + signature)
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.replace(self._tmp, self.path)
        return self.file_id

    def abort(self) -> None:
        """Drop the unfinished file."""
        if not self._out.closed:
            self._out.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is not None or not self._out.closed:
            self.abort()


@dataclass(frozen=True)
class _Layout:
    header: dict[str, Any]
    header_bytes: bytes
    parts: list[tuple[int, int]]
    trailer: dict[str, Any]
    digest: str


class _Reader:
    """Reads fields of the file at ``path`` and hashes what it read."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self.handle = handle
        self.hash = hashlib.sha256()
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise ExchangeError(
                f"{self.path}: truncated in {what} at byte {self.offset + len(data)}; "
                "the transfer was cut off: ask the sender for the file again"
            )
        self.hash.update(data)
        self.offset += size
        return data

    def length(self, what: str) -> int:
        value: int = _U32.unpack(self.take(4, f"the length of {what}"))[0]
        if value > _MAX_FIELD:
            raise ExchangeError(f"{self.path}: {what} claims {value} bytes; not an exchange file")
        return value

    def skip(self, size: int, what: str) -> None:
        left = size
        while left:
            self.take(min(left, _READ), what)
            left -= min(left, _READ)


def _json(data: bytes, path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExchangeError(f"{path}: the {what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ExchangeError(f"{path}: the {what} is not a JSON object")
    return value


def _layout(path: Path, kind: str, recipient: PartyKeys, sender: PublicParty) -> _Layout:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExchangeError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        reader = _Reader(path, handle)
        if handle.read(len(MAGIC)) != MAGIC:
            raise ExchangeError(f"{path}: not an sbkcard exchange file")
        reader.hash.update(MAGIC)
        reader.offset = len(MAGIC)
        header_bytes = reader.take(reader.length("the header"), "the header")
        header = _json(header_bytes, path, "header")
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ExchangeError(f"{path}: unknown exchange format {header.get('format')!r}")
        if header.get("kind") != kind:
            raise ExchangeError(f"{path}: this is a {header.get('kind')} file, not a {kind} file")
        to = header.get("recipient") or {}
        if to.get("fingerprint") != recipient.public.fingerprint:
            raise ExchangeError(
                f"{path}: wrong recipient: addressed to {to.get('name')!r} (key "
                f"{str(to.get('fingerprint'))[:16]}…), not to {recipient.name!r} (key "
                f"{recipient.public.fingerprint[:16]}…)"
            )
        by = header.get("sender") or {}
        if by.get("fingerprint") != sender.fingerprint:
            raise ExchangeError(
                f"{path}: sent by {by.get('name')!r} (key {str(by.get('fingerprint'))[:16]}…), "
                f"not by {sender.name!r} (key {sender.fingerprint[:16]}…) whose file was expected"
            )
        parts: list[tuple[int, int]] = []
        while True:
            size = reader.length(f"part {len(parts)}")
            if size == 0:
                break
            parts.append((reader.offset, size))
            reader.skip(size, f"part {len(parts) - 1}")
        trailer = _json(reader.take(reader.length("the trailer"), "the trailer"), path, "trailer")
        digest = reader.hash.digest()
        size = _U32.unpack(handle.read(4).rjust(4, b"\0"))[0]
        signature = handle.read(size) if 0 < size <= 4096 else b""
        if len(signature) != size or not signature:
            raise ExchangeError(f"{path}: truncated: the signature is missing or cut off")
        if handle.read(1):
            raise ExchangeError(f"{path}: bytes follow the signature; the file was altered")
    if not sender.verify(signature, digest):
        raise ExchangeError(
            f"{path}: the signature of {sender.name!r} does not verify: the file was altered "
            "after it was signed"
        )
    if trailer.get("parts") != len(parts):
        raise ExchangeError(
            f"{path}: the trailer counts {trailer.get('parts')} parts, not {len(parts)}"
        )
    return _Layout(header, header_bytes, parts, trailer, digest.hex())


@dataclass(frozen=True)
class SealedFile:
    """An exchanged file whose signature checked: its header, trailer and parts."""

    path: Path
    header: dict[str, Any]
    trailer: dict[str, Any]
    digest: str
    _header_bytes: bytes
    _parts: tuple[tuple[int, int], ...]
    _key: bytes

    @property
    def file_id(self) -> str:
        """The sender's random id of this file."""
        return str(self.header["file_id"])

    @property
    def meta(self) -> dict[str, Any]:
        """The sender's metadata."""
        return dict(self.header.get("meta") or {})

    def parts(self) -> Iterator[bytes]:
        """Every part decrypted, in order, one at a time."""
        aead = AESGCM(self._key)
        aad = hashlib.sha256(self._header_bytes).digest()
        with self.path.open("rb") as handle:
            for index, (offset, size) in enumerate(self._parts):
                handle.seek(offset)
                sealed = handle.read(size)
                try:
                    yield aead.decrypt(_nonce(index), sealed, aad + index.to_bytes(8, "big"))
                except InvalidTag:
                    raise ExchangeError(
                        f"{self.path}: part {index} does not decrypt; the file changed after "
                        "its signature was checked"
                    ) from None


def open_sealed(
    path: str | os.PathLike[str], *, kind: str, recipient: PartyKeys, sender: PublicParty
) -> SealedFile:
    """Check the exchanged file at ``path`` and open it for ``recipient``.

    Raises :class:`~.parties.ExchangeError` naming the cause: not an exchange file,
    another kind, wrong recipient, unexpected sender, truncated, or tampered.
    """
    where = Path(path)
    layout = _layout(where, kind, recipient, sender)
    try:
        key = recipient.unwrap(base64.b64decode(layout.header["content_key"]))
    except (ValueError, KeyError, TypeError):
        raise ExchangeError(f"{where}: the content key does not decrypt with this key") from None
    return SealedFile(
        where,
        layout.header,
        layout.trailer,
        layout.digest,
        layout.header_bytes,
        tuple(layout.parts),
        key,
    )
