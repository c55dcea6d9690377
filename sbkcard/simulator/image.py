"""Card images: a simulated card's persistent state as a versioned, diffable JSON file.

An image holds what survives power-off and nothing else (the applet's volatile state is
rebuilt at power-up)::

    {
      "applet": "user-card",
      "atr": "3B6D0000...",
      "format": "sbkcard-image/1",
      "profile": 3,
      "storage": {
        "SSSE/EF05": {"value": "0110..."},
        "key:SSSE/01.01": {"secret": true, "value": "..."}
      }
    }

The same card always gives the same bytes: keys sorted, one storage cell per line,
upper-case hex, UTF-8, one trailing newline, so that two images diff cell by cell.  Storage keys
that the applet declares secret (keys, PINs: ``is_secret`` of the applet's module) are
marked ``"secret": true``; the value is still there, because an image *is* the chip's
memory, and the file is created readable by its owner only.  Tools that display an
image (``sbkcard card show``) mask marked values.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbkcard.simulator.applets import applet_kind
from sbkcard.simulator.card import SimulatedCard
from sbkcard.simulator.errors import ImageError, SimulatorError
from sbkcard.simulator.image_checks import check_content
from sbkcard.simulator.image_journal import remove_journal, replay

IMAGE_FORMAT = "sbkcard-image/1"
"""The ``"format"`` of the images this version reads and writes."""

_FIELDS = frozenset({"applet", "atr", "format", "profile", "storage"})
MAX_ATR = 33
"""The longest ATR (ISO 7816-3: TS, T0 and at most 31 more bytes)."""


def image_bytes(card: SimulatedCard) -> bytes:
    """The image of ``card`` (recovering its NVM first if a journal is pending)."""
    kind = applet_kind(card.kind)
    cells = []
    for key, value in sorted(card.snapshot().storage.items()):
        cell: dict[str, Any] = {"value": value.hex().upper()}
        if kind.is_secret(key):
            cell["secret"] = True
        cells.append(f"    {_json(key)}: {_json(cell)}")
    storage = "{\n" + ",\n".join(cells) + "\n  }" if cells else "{}"
    header = {
        "applet": card.kind,
        "atr": card.atr.hex().upper(),
        "format": IMAGE_FORMAT,
        "profile": card.profile,
    }
    lines = [f"  {_json(name)}: {_json(value)}," for name, value in header.items()]
    text = "{\n" + "\n".join(lines) + f'\n  "storage": {storage}\n}}\n'
    return text.encode("utf-8")


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def card_from_image(data: bytes, *, source: str = "<image>") -> SimulatedCard:
    """The card an image describes; :class:`ImageError` names what is wrong in ``source``."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageError(source, f"not a JSON card image ({exc})") from exc
    if not isinstance(document, dict):
        raise ImageError(source, "not a JSON card image (top level is not an object)")
    fmt = document.get("format")
    if fmt != IMAGE_FORMAT:
        raise ImageError(source, f"format {fmt!r} is not {IMAGE_FORMAT!r}")
    unknown = sorted(set(document) - _FIELDS)
    missing = sorted(_FIELDS - set(document))
    if unknown or missing:
        parts = [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
        parts += [f"missing field(s) {', '.join(missing)}"] if missing else []
        raise ImageError(source, "; ".join(parts))
    kind = document["applet"]
    if not isinstance(kind, str):
        raise ImageError(source, f"applet must be a kind name, not {kind!r}")
    atr = _hex(document["atr"], source, "atr")
    if not 2 <= len(atr) <= MAX_ATR:
        raise ImageError(source, f"atr must be 2 to {MAX_ATR} bytes, not {len(atr)}")
    profile = document["profile"]
    if profile is not None and (not isinstance(profile, int) or isinstance(profile, bool)):
        raise ImageError(source, f"profile must be an integer or null, not {profile!r}")
    content = _storage(document["storage"], source)
    try:
        check_content(kind, content, atr, profile)
    except ValueError as exc:
        raise ImageError(source, str(exc)) from None
    try:
        return SimulatedCard.create(kind, content, atr, profile=profile)
    except SimulatorError as exc:
        raise ImageError(source, str(exc)) from exc


def save_image(card: SimulatedCard, path: str | os.PathLike[str]) -> None:
    """Write ``card``'s image to ``path`` atomically (temporary file, fsync, rename).

    A crash during the save leaves the previous image whole.  A new file is readable
    by its owner only (it holds the chip's keys).  The image then holds everything, so a
    write-through journal beside it (:mod:`~sbkcard.simulator.image_journal`) is removed.
    """
    target = Path(path)
    data = image_bytes(card)
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ImageError(str(target), f"cannot write in {directory} ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
        remove_journal(target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ImageError(str(target), f"cannot write ({exc.strerror or exc})") from exc


def load_image(path: str | os.PathLike[str]) -> SimulatedCard:
    """The card saved in ``path`` (inserted, unpowered), with its journal replayed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(str(path), f"cannot read ({exc.strerror or exc})") from exc
    card = card_from_image(data, source=str(path))
    replay(card, path)
    return card


def secret_keys(card: SimulatedCard) -> frozenset[str]:
    """The storage keys of ``card`` that hold secrets (masked by every display)."""
    kind = applet_kind(card.kind)
    return frozenset(k for k in card.nvm.keys("") if kind.is_secret(k))


def _hex(value: object, source: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise ImageError(source, f"{where} must be a hex string, not {value!r}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ImageError(source, f"{where} is not hex: {value[:40]!r}") from None


def _storage(value: object, source: str) -> Mapping[str, bytes]:
    if not isinstance(value, dict):
        raise ImageError(source, "storage must be an object of key → cell")
    content: dict[str, bytes] = {}
    for key, cell in value.items():
        if not isinstance(cell, dict) or "value" not in cell:
            raise ImageError(source, f"storage[{key!r}] must be an object with a value")
        extra = sorted(set(cell) - {"value", "secret"})
        if extra:
            raise ImageError(source, f"storage[{key!r}] has unknown field(s) {', '.join(extra)}")
        if not isinstance(cell.get("secret", False), bool):
            raise ImageError(source, f"storage[{key!r}].secret must be true or false")
        content[key] = _hex(cell["value"], source, f"storage[{key!r}].value")
    return content
