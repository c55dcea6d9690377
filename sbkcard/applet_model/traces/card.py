"""The user card as a trace shows it: current DF and EF, layout, and what each command means.

:class:`CardModel` follows the card's own rules (Part 5 §6.11 SELECT, §6.9–§6.13 file
addressing; Part 3 §5.2): SELECT by DF name (first DF whose name starts with the data, or the
next one with P2 ``02``), by FID (a child of the current DF, else a sibling DF or the
parent), EF by identifier under the current DF; READ/UPDATE RECORD and BINARY by SFI make
the addressed EF current.  Files and data items come from the national tree
(:func:`~sbkcard.applet_model.ssse.national_tree`) and
:data:`~sbkcard.applet_model.data_items.FILE_ITEMS`; values are decoded by the typed
records (:func:`~sbkcard.applet_model.records.decode_file`), one record at a time, with
the layout learnt from SSSE EF05 tag ``03``.  KIDs are named from
:data:`~sbkcard.keys.hierarchy.CARD_KEYS` as sbkcard's COS numbers them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

from sbkcard.apdu.builders import RecordMode
from sbkcard.apdu.errors import TlvError
from sbkcard.apdu.tlv import parse_ber_tlv, parse_simple_tlv
from sbkcard.apdu.trace import command_name
from sbkcard.applet_model.data_items import FILE_ITEMS, LEGACY_ITEMS, DataItem, item, legacy
from sbkcard.applet_model.records import IssuerData, decode_file, renewed
from sbkcard.applet_model.ssse import DIR_SFI, Layout, LayoutError, national_tree
from sbkcard.applet_model.traces.layouts import CARD_COMMANDS, CARD_RESPONSES, Row
from sbkcard.applet_model.traces.pki import PkiModel
from sbkcard.applet_model.traces.values import (
    MAC_LENGTH,
    Apply,
    Cmd,
    Step,
    ber_rows,
    hex_preview,
    hex_rows,
    layout_rows,
    masked,
    quoted,
    success,
    text,
)
from sbkcard.applet_model.tree import DF, EF, Structure
from sbkcard.applet_model.user_card.fcp import (
    MF,
    MF_FID,
    DfHeader,
    EfHeader,
    HeaderError,
    decode_header,
    key_kid,
    parent,
)
from sbkcard.applet_model.user_card.personalise import key_home
from sbkcard.applet_model.user_card.session import DF_LOCAL, home_of
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import CARD_KEYS

__all__ = ["CardModel"]

_KEY_NAMES: dict[tuple[str, int], tuple[str, str]] = {
    (key_home(spec), key_kid(spec)): (spec.name, spec.purpose) for spec in CARD_KEYS
}
"""(DF holding the key, KID) → (key name, purpose) on sbkcard's user card."""

_MODES: dict[int, str] = {
    RecordMode.FIRST_OCCURRENCE: "the first record with tag {tag}",
    RecordMode.LAST_OCCURRENCE: "the last record with tag {tag}",
    RecordMode.NEXT_OCCURRENCE: "the next record with tag {tag}",
    RecordMode.PREVIOUS_OCCURRENCE: "the previous record with tag {tag}",
    RecordMode.RECORD: "record #{p1}",
    RecordMode.FROM_RECORD_TO_LAST: "records {p1} to last",
    RecordMode.FROM_LAST_TO_RECORD: "records last to {p1}",
}
"""READ/UPDATE RECORD P2 b3–b1 (Part 5 tables 32, 44)."""


def _enciphered(cmd: Cmd) -> bool:
    """Secure messaging with ``LD ‖ data`` enciphered before the MAC (Part 4 §8.3).

    PIN RELOAD ``84 24 00 01`` (Part 5 §6.8) and WRITE KEY/PIN ``84 D4``.
    """
    return cmd.ins == 0xD4 or (cmd.ins == 0x24 and cmd.p2 == 0x01)


def _describe(paths: dict[str, DF | EF], path: str) -> str:
    found = paths.get(path)
    if isinstance(found, DF):
        return f"{path} {found.label} ({found.en})"
    if isinstance(found, EF):
        return f"{path} {found.zh} ({found.en})"
    return path


class CardModel:
    """What a trace shows of a user card (see the module docstring)."""

    def __init__(self) -> None:
        self.tree = national_tree(Layout.V2, Algorithm.DES)
        self.paths: dict[str, DF | EF] = dict(self.tree.paths)
        self.df = MF
        self.ef: str | None = None
        self.layout = Layout.V2
        self.pki = PkiModel()

    @property
    def location(self) -> str:
        """The current DF, and the current EF if there is one."""
        return self.df if self.ef is None else f"{self.df}, EF {self.ef.rpartition('/')[2]}"

    def describe(self, path: str) -> str:
        """``path`` with its declared names."""
        return _describe(self.paths, path)

    # -- files ---------------------------------------------------------------------------

    def children(self, path: str) -> list[tuple[str, DF | EF]]:
        """The declared files directly under the DF ``path``."""
        if path == MF:
            return [(self.tree.ssse.name, self.tree.ssse)]
        found = self.paths.get(path)
        if not isinstance(found, DF):
            return []
        decls: list[DF | EF] = [*found.efs, *found.dfs]
        return [(f"{path}/{decl.name}", decl) for decl in decls]

    def by_fid(self, fid: int) -> str | None:
        """SELECT by FID (Part 5 §6.11): a child of the current DF, else a sibling DF."""
        for path, decl in self.children(self.df):
            if decl.fid == fid:
                return path
        if self.df == MF:
            return None
        up = parent(self.df)
        for path, decl in self.children(up):
            if isinstance(decl, DF) and decl.fid == fid:
                return path
        up_decl = self.paths.get(up)
        return up if isinstance(up_decl, DF) and up_decl.fid == fid else None

    def by_name(self, name: bytes, following: bool) -> str | None:
        """SELECT by DF name: the first DF whose name starts with ``name``."""
        named = sorted(p for p, d in self.tree.ssse.dedicated().items() if d.aid.startswith(name))
        if following:
            named = [p for p in named if p > self.df]
        return named[0] if named else None

    def addressed(self, sfi: int) -> tuple[str | None, EF | None, str]:
        """The EF a command addresses by SFI (``0``: the current EF), and a note."""
        if sfi == 0:
            if self.ef is None:
                return None, None, "file: the current EF (none is selected)"
            decl = self.paths.get(self.ef)
            current = decl if isinstance(decl, EF) else None
            return self.ef, current, f"file: the current EF, {self.describe(self.ef)}"
        for path, found in self.children(self.df):
            if isinstance(found, EF) and found.sfi == sfi:
                return path, found, f"file: {self.describe(path)}, by SFI {sfi:02X}"
        return None, None, f"file: SFI {sfi:02X}, not declared in {self.df}"

    def keep_ef(self, path: str | None) -> Apply:
        """Make ``path`` the current EF unless the card found no such file."""

        def apply(sw: int) -> None:
            if path is not None and sw != 0x6A82:
                self.ef = path

        return apply

    # -- file contents ---------------------------------------------------------------------

    def record_rows(
        self, path: str | None, ef: EF | None, data: bytes, first: int | None = None
    ) -> list[Row]:
        """The data items of record bytes of ``path`` (READ RECORD answers, UPDATE data).

        ``first`` is the number of the first record of fixed-length ``data`` when known.
        """
        if path is None or ef is None or not data:
            return hex_rows(data)
        if ef.sfi == DIR_SFI and ef.fid is None:
            return ber_rows(data) + self._applications(data)
        items = FILE_ITEMS.get(path, ())
        if not items:
            return hex_rows(data)
        if items[0].tag is not None:
            return self._tlv_rows(path, data)
        size = sum(it.length for it in items)
        if len(data) % size:
            return [Row("", "", "", f"{data.hex().upper()} (not whole {size}-byte records)")]
        rows: list[Row] = []
        for count, offset in enumerate(range(0, len(data), size)):
            label = f"({count + 1})" if first is None else f"#{first + count}"
            chunk = data[offset : offset + size]
            try:
                content = decode_file(path, chunk, self.layout)
            except SbkcardError as exc:
                rows.append(Row(label, "", "", f"{chunk.hex().upper()} ({exc})"))
                continue
            record = getattr(content, "records", (content,))[0]
            rows += [
                Row(label, it.zh, it.en, text(getattr(record, it.field, None))) for it in items
            ]
        return rows

    def _applications(self, data: bytes) -> list[Row]:
        """The DF each DIR template ``61`` names (Part 3 §6.3)."""
        try:
            templates = parse_ber_tlv(data)
        except TlvError:
            return []
        rows = []
        for template in templates:
            aid = template.find(0x4F)
            path = None if aid is None else self.by_name(aid.value, False)
            if path is not None:
                rows.append(Row("", "应用", "application", self.describe(path)))
        return rows

    def _tlv_rows(self, path: str, data: bytes) -> list[Row]:
        try:
            records = parse_simple_tlv(data, allow_padding=True)
        except TlvError as exc:
            return [Row("", "not simple-TLV", "", f"{data.hex().upper()} ({exc.reason})")]
        # on a 1.0x card a "定义变更" record is read by the tag it follows (S2 appendix C):
        # the records of this answer holding new items go with it
        renewed_records = b"".join(
            bytes((tag, len(value))) + value
            for tag, value in records
            if self.layout is Layout.V1 and renewed(path, tag, value)
        )
        rows = []
        seen: dict[int, int] = {}
        for tag, value in records:
            seen[tag] = seen.get(tag, 0) + 1
            rows.append(self._item_row(path, tag, value, seen[tag], renewed_records))
        return rows

    def _item_row(
        self, path: str, tag: int, value: bytes, occurrence: int, renewed_records: bytes
    ) -> Row:
        try:
            it = item(path, tag)
        except KeyError:
            return Row(f"{tag:02X}", "", "(not declared for this file)", value.hex().upper())
        label = f"{tag:02X}:{occurrence}" if it.repeat > 1 else f"{tag:02X}"
        old = legacy(path, tag)
        context = renewed_records if old is not None and old.follows is not None else b""
        try:
            content = decode_file(path, context + bytes((tag, len(value))) + value, self.layout)
        except SbkcardError as exc:
            return Row(label, it.zh, it.en, f"{value.hex().upper()} (does not decode: {exc})")
        shown = _item_value(content, it, value, self.layout, path)
        if isinstance(content, IssuerData) and it.field == "version":
            with contextlib.suppress(LayoutError):
                self.layout = content.layout
        return Row(label, it.zh, it.en, shown)

    def binary_rows(self, path: str | None, ef: EF | None, offset: int, data: bytes) -> list[Row]:
        """Bytes of a transparent file at ``offset``."""
        if ef is None or path is None or not data:
            return hex_rows(data)
        items = FILE_ITEMS.get(path, ())
        zh, en = (items[0].zh, items[0].en) if len(items) == 1 else (ef.zh, ef.en)
        end = offset + len(data)
        return [Row(f"{offset:04X}–{end - 1:04X}", zh, en, hex_preview(data))]

    # -- commands ------------------------------------------------------------------------------

    def step(self, cmd: Cmd) -> Step:
        """What ``cmd`` means where the card is now."""
        in_application = self.pki.step(cmd)
        if in_application is not None:
            return in_application
        step = Step(command_name(cmd, "card"))
        if cmd.secure_messaging:
            step.notes.append(self.secure_messaging(cmd))
        handler = _HANDLERS.get(cmd.ins)
        if handler is not None:
            handler(self, cmd, step)
        elif cmd.data:
            step.fields = hex_rows(cmd.data)
        return step

    def mac_key(self, cmd: Cmd) -> str:
        """Whose key MACs a secure-messaging command (Part 4 §8; Part 7 §13)."""
        if cmd.ins == 0xD4:
            return "the master key in control, IV = the card's challenge"
        df = self.df
        if cmd.ins == 0x16:
            df = df.partition("/")[0]
        elif cmd.ins == 0x24:
            df = "SSSE"
        found = self.paths.get(df)
        stk = found.mac_key if isinstance(found, DF) else "the DF's maintenance key"
        return f"the session key of {stk} on the card's challenge"

    def secure_messaging(self, cmd: Cmd) -> str:
        """header ‖ Lc ‖ [LD ‖ data] enciphered ‖ MAC, with the MAC's position."""
        body = cmd.length - MAC_LENGTH
        if body < 0:
            return f"secure messaging: {cmd.length} data bytes cannot hold the 4-byte MAC"
        if cmd.data is None:
            part, mac = masked(body), masked(MAC_LENGTH)
        else:
            part, mac = cmd.data[:body].hex().upper(), cmd.data[body:].hex().upper()
        what = "[LD ‖ data] enciphered" if _enciphered(cmd) else "data"
        middle = f" ‖ {what} ({body} bytes) {part}" if body else ""
        first, last = body + 1, cmd.length
        return (
            f"secure messaging: {cmd.header} ‖ Lc {cmd.length:02X}{middle} ‖ MAC {mac} "
            f"(data bytes {first}–{last}, APDU bytes {5 + first}–{5 + last}); "
            f"MAC by {self.mac_key(cmd)}"
        )

    def key(self, kid: int) -> str:
        """The key a KID names in the current DF (Part 5 table 14)."""
        scope = "DF-local" if kid & DF_LOCAL else "global"
        home = home_of(self.df, kid)
        found = _KEY_NAMES.get((home, kid))
        if found is None:
            return f"key: KID {kid:02X} ({scope}, in {home})"
        name, purpose = found
        return f"key: KID {kid:02X} ({scope}, in {home}) = {name} {purpose}".rstrip()


def _item_value(content: Any, it: DataItem, raw: bytes, layout: Layout, path: str) -> str:
    """The value of ``it`` in ``content``, which was decoded from that one record."""
    default = type(content)()
    changed = [
        f.name
        for f in dataclasses.fields(content)
        if f.name != "extra" and getattr(content, f.name) != getattr(default, f.name)
    ]
    # EF06 4E (name extension) is joined into ``name``: the changed field holds it
    name = it.field if hasattr(content, it.field) else (changed[0] if changed else None)
    extra: tuple[Any, ...] = getattr(content, "extra", ())
    if not changed and extra:
        legacy = [lg for lg in LEGACY_ITEMS if lg.path == path and lg.tag == it.tag]
        if layout is Layout.V1 and legacy:
            return f"{raw.hex().upper()} (1.0x item {legacy[0].old_zh})"
        return raw.hex().upper()
    if name is None:
        return text("")
    value = getattr(content, name)
    if it.repeat > 1 and isinstance(value, tuple) and value:
        value = value[0]
    if it.members and dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "; ".join(f"{m.zh} {text(getattr(value, m.field))}" for m in it.members)
    return text(value)


# -- one function per command ----------------------------------------------------------------


def _select(model: CardModel, cmd: Cmd, step: Step) -> None:
    data = cmd.data or b""
    target: str | None
    if cmd.p1 == 0x04:
        target = model.by_name(data, cmd.p2 == 0x02)
        how = "the next DF named" if cmd.p2 == 0x02 else "by DF name"
        step.notes.append(f"{how} {quoted(data)}")
    elif cmd.p1 == 0x00:
        fid = int.from_bytes(data, "big") if data else MF_FID
        target = MF if fid == MF_FID else model.by_fid(fid)
        step.notes.append(f"by FID {fid:04X}")
    elif cmd.p1 == 0x02:
        fid = int.from_bytes(data, "big") if len(data) == 2 else -1
        target = next(
            (p for p, d in model.children(model.df) if isinstance(d, EF) and d.fid == fid), None
        )
        step.notes.append(f"EF by identifier {data.hex().upper()} under {model.df}")
    else:
        target = None
        step.notes.append(f"P1 {cmd.p1:02X}: no such selection method")
    if target is None:
        step.notes.append("→ no such file in the national tree")
    else:
        step.notes.append(f"→ {model.describe(target)}")
    is_ef = target is not None and isinstance(model.paths.get(target), EF)
    step.interpret = lambda answer: ber_rows(answer, discretionary=_ssse_discretionary)

    def apply(sw: int) -> None:
        if target is None:
            return
        if is_ef:
            if success(sw):
                model.ef = target
        elif success(sw) or sw == 0x9303:  # a blocked DF is entered all the same
            if target != model.df:
                model.ef = None
            model.df = target

    step.apply = apply


def _ssse_discretionary(value: bytes) -> list[Row]:
    """The SSSE's ``9F0C``: simple-TLV, tag ``86`` the algorithm (S3 §10.1)."""
    try:
        records = parse_simple_tlv(value, allow_padding=True)
    except TlvError:
        return []
    rows = []
    for tag, inner in records:
        shown = inner.hex().upper()
        if tag == 0x86 and len(inner) == 1:
            with contextlib.suppress(ValueError):
                shown += f" {Algorithm(inner[0]).label}"
            rows.append(Row("86", "算法标识", "algorithm", shown))
        else:
            rows.append(Row(f"{tag:02X}", "", "", shown))
    return rows


def _record_mode(path: str | None, cmd: Cmd) -> str:
    mode = cmd.p2 & 0x07
    template = _MODES.get(mode)
    if template is None:
        return f"record mode {mode} (reserved)"
    if mode == RecordMode.RECORD and cmd.p1 == 0:
        return "the current record"
    tag = f"{cmd.p1:02X}"
    if mode < RecordMode.RECORD and path is not None:
        with contextlib.suppress(KeyError):
            it = item(path, cmd.p1)
            tag = f"{cmd.p1:02X} {it.zh} ({it.en})"
    return template.format(tag=tag, p1=cmd.p1)


def _first_record(cmd: Cmd) -> int | None:
    """The number of the first record a READ/UPDATE RECORD carries, when P1 gives it."""
    mode = cmd.p2 & 0x07
    if cmd.p1 and mode in (RecordMode.RECORD, RecordMode.FROM_RECORD_TO_LAST):
        return cmd.p1
    return None


def _read_record(model: CardModel, cmd: Cmd, step: Step) -> None:
    path, ef, note = model.addressed(cmd.p2 >> 3)
    step.notes += [note, _record_mode(path, cmd)]
    first = _first_record(cmd)
    step.interpret = lambda answer: model.record_rows(path, ef, answer, first)
    step.apply = model.keep_ef(path if cmd.p2 >> 3 else None)


def _sent_data(cmd: Cmd) -> bytes | None:
    """The data a command writes: without the MAC under secure messaging."""
    if cmd.data is not None and cmd.secure_messaging:
        return cmd.data[:-MAC_LENGTH]
    return cmd.data


def _update_record(model: CardModel, cmd: Cmd, step: Step) -> None:
    path, ef, note = model.addressed(cmd.p2 >> 3)
    mode = _record_mode(path, cmd)
    cyclic = ef is not None and ef.structure is Structure.CYCLIC
    if cmd.p2 & 0x07 == RecordMode.PREVIOUS_OCCURRENCE and cyclic:
        mode = "a new record (cyclic file: it becomes record #1)"
    step.notes += [note, f"writes {mode}"]
    data = _sent_data(cmd)
    if data:
        step.fields = model.record_rows(path, ef, data, _first_record(cmd))
    step.apply = model.keep_ef(path if cmd.p2 >> 3 else None)


def _binary_address(model: CardModel, cmd: Cmd) -> tuple[str | None, EF | None, int, str]:
    if cmd.p1 & 0x80:
        path, ef, note = model.addressed(cmd.p1 & 0x1F)
        return path, ef, cmd.p2, note
    path, ef, note = model.addressed(0)
    return path, ef, (cmd.p1 << 8) | cmd.p2, note


def _read_binary(model: CardModel, cmd: Cmd, step: Step) -> None:
    path, ef, offset, note = _binary_address(model, cmd)
    step.notes += [note, f"from offset {offset:04X}"]
    step.interpret = lambda answer: model.binary_rows(path, ef, offset, answer)
    step.apply = model.keep_ef(path if cmd.p1 & 0x80 else None)


def _update_binary(model: CardModel, cmd: Cmd, step: Step) -> None:
    path, ef, offset, note = _binary_address(model, cmd)
    step.notes += [note, f"writes at offset {offset:04X}"]
    data = _sent_data(cmd)
    if data:
        step.fields = model.binary_rows(path, ef, offset, data)
    step.apply = model.keep_ef(path if cmd.p1 & 0x80 else None)


def _verify(model: CardModel, cmd: Cmd, step: Step) -> None:
    if cmd.length == 0:
        step.notes.append("no PIN: asks how many tries are left")
    else:
        step.fields = [Row("", "个人密码", "PIN", f"{masked(cmd.length)} (masked)")]


def _change_pin(model: CardModel, cmd: Cmd, step: Step) -> None:
    step.fields = [
        Row("", "原密码 ‖ FF ‖ 新密码", "old PIN ‖ FF ‖ new PIN", f"{masked(cmd.length)} (masked)")
    ]


def _pin_unblock(model: CardModel, cmd: Cmd, step: Step) -> None:
    what = {0x00: "resets the PIN tries", 0x01: "sets a new PIN (enciphered, masked)"}
    step.notes.append(what.get(cmd.p2, f"P2 {cmd.p2:02X}: no such operation"))


def _challenge(model: CardModel, cmd: Cmd, step: Step) -> None:
    step.notes.append(f"{cmd.le or 0} random bytes, good for one use")
    step.interpret = lambda answer: layout_rows(CARD_RESPONSES, cmd, answer)


def _external(model: CardModel, cmd: Cmd, step: Step) -> None:
    step.notes.append(model.key(cmd.p2))
    if cmd.data is not None:
        step.fields = layout_rows(CARD_COMMANDS, cmd, cmd.data)


def _internal(model: CardModel, cmd: Cmd, step: Step) -> None:
    _external(model, cmd, step)
    step.interpret = lambda answer: layout_rows(CARD_RESPONSES, cmd, answer)


def _purse(model: CardModel, cmd: Cmd, step: Step) -> None:
    if cmd.ins == 0x2E:
        step.notes.append(f"transaction type {cmd.p2:02X}")
    if cmd.data:
        step.fields = layout_rows(CARD_COMMANDS, cmd, cmd.data)
    step.interpret = lambda answer: layout_rows(CARD_RESPONSES, cmd, answer)


def _block(model: CardModel, cmd: Cmd, step: Step) -> None:
    if cmd.ins == 0x16:
        step.notes.append("blocks the card: every later command answers 6A81")
    else:
        step.notes.append(f"blocks {model.describe(model.df)}")


def _create_file(model: CardModel, cmd: Cmd, step: Step) -> None:
    if cmd.data is None:
        return
    try:
        header = decode_header(cmd.data)
    except (HeaderError, IndexError) as exc:
        step.fields = [Row("", "", "header", f"{cmd.data.hex().upper()} (not a header: {exc})")]
        return
    path = header.name if model.df == MF else f"{model.df}/{header.name}"
    step.notes.append(f"creates {model.describe(path)}")
    step.fields = _header_rows(header)


def _header_rows(header: EfHeader | DfHeader) -> list[Row]:
    rows = [Row("", "", "FID", "—" if header.fid is None else f"{header.fid:04X}")]
    if isinstance(header, EfHeader):
        if header.structure.fixed:
            size = f"{header.records} records of {header.record_length} bytes"
        else:
            size = f"{header.size} bytes"
        rows += [
            Row("", "", "structure", header.structure.value),
            Row("", "", "SFI", "—" if header.sfi is None else f"{header.sfi:02X}"),
            Row("", "", "size", size),
        ]
        for what, cond in (("read", header.read), ("write", header.write)):
            kid = f" KID {cond.kid:02X}" if cond.kid else ""
            rows.append(Row("", "", what, f"{cond.rule.value}{kid}"))
        return rows
    kid = f" KID {header.block.kid:02X}" if header.block.kid else ""
    rows += [
        Row("", "", "DF name", quoted(header.aid) if header.aid else "—"),
        Row("", "", "directory SFI", "—" if header.dir_sfi is None else f"{header.dir_sfi:02X}"),
        Row("", "", "MAC key", f"KID {header.mac_kid:02X}"),
        Row("", "", "block condition", f"{header.block.rule.value}{kid}"),
    ]
    if header.discretionary:
        rows.append(Row("", "", "FCI 9F0C", header.discretionary.hex().upper()))
    return rows


def _write_key(model: CardModel, cmd: Cmd, step: Step) -> None:
    step.notes.append(model.key(cmd.p2) if cmd.p1 == 0x00 else f"the PIN of {model.df}")


_Handler = Callable[[CardModel, Cmd, Step], None]

_HANDLERS: dict[int, _Handler] = {
    0xA4: _select,
    0xB2: _read_record,
    0xDC: _update_record,
    0xB0: _read_binary,
    0xD6: _update_binary,
    0x20: _verify,
    0x5E: _change_pin,
    0x24: _pin_unblock,
    0x84: _challenge,
    0x82: _external,
    0x88: _internal,
    0x1E: _block,
    0x16: _block,
    0xE0: _create_file,
    0xD4: _write_key,
    0x28: _purse,
    0x2A: _purse,
    0x2C: _purse,
    0x26: _purse,
    0x2E: _purse,
    0x56: _purse,
}
"""INS → what the decoder reads from a user-card command (Part 5 §6–7)."""
