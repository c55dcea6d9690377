"""The PSAM as a trace shows it: its environment, the ADF, the current EF (Part 9).

:class:`PsamModel` follows the PSAM's SELECT (the DES environment ``sx1.sh.社会保障`` /
``3F00``, the SM4/SSF33 environment ``sx2.sh.社会保障`` / ``DDF1``, the ADF
``D15600000590`` / ``DF01`` of the current environment), decodes its files with
:mod:`sbkcard.applet_model.psam.files`, names the card key a DELIVERY SESSION KEY
diversifies (usage and key ID of :data:`~sbkcard.keys.hierarchy.CARD_KEYS`) and splits
its factors and session input by the environment's block size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sbkcard.apdu.builders import CipherMode
from sbkcard.applet_model.psam.files import (
    ApplicationInfo,
    PublicInfo,
    TerminalInfo,
    decode_sequence,
)
from sbkcard.applet_model.psam.layout import (
    ADF_AID,
    ADF_FID,
    DES_ENVIRONMENT,
    ENVIRONMENTS,
    Environment,
    file_spec,
)
from sbkcard.applet_model.traces.layouts import PSAM_COMMANDS, PSAM_RESPONSES, Row
from sbkcard.applet_model.traces.values import (
    MAC_LENGTH,
    Cmd,
    Step,
    ber_rows,
    hex_rows,
    layout_rows,
    masked,
    quoted,
    success,
    text,
)
from sbkcard.errors import SbkcardError
from sbkcard.keys.hierarchy import CARD_KEYS

__all__ = ["PsamModel"]

_KEY_NAMES: dict[tuple[int, int], tuple[str, str]] = {
    (spec.key_type, spec.psam_id): (spec.name, spec.purpose)
    for spec in CARD_KEYS
    if spec.key_type is not None and spec.psam_id is not None
}
"""(key type, key ID) → the user-card key a PSAM key record diversifies to (Part 9 table
B1).  The usage byte's b8–b6 (levels still to diversify) depend on the depth the PSAM
holds the key at, so only its key type (b5–b1) names the key."""

_FILES: dict[int, Callable[[bytes], Any]] = {
    0x0015: PublicInfo.from_bytes,
    0x0016: TerminalInfo.from_bytes,
    0x0019: decode_sequence,
    0x001A: ApplicationInfo.from_bytes,
    0x001B: ApplicationInfo.from_bytes,
    0x001C: ApplicationInfo.from_bytes,
}
"""Decoders of the PSAM's transparent files (Part 9 tables 2–7)."""

_FIELD_NAMES: dict[str, tuple[str, str]] = {
    "issuer_id": ("发行机构标识", "issuer ID"),
    "serial": ("PSAM 序列号", "PSAM serial number"),
    "version": ("PSAM 版本号", "PSAM version"),
    "key_card_type": ("密钥卡类型", "key card type"),
    "issuer_data": ("发卡方自定义 FCI 数据", "issuer FCI data"),
    "terminal_number": ("终端机编号", "terminal number"),
    "purchase_key_index": ("医疗消费密钥索引号", "purchase key index"),
    "auth_key_version": ("鉴别密钥版本号", "authentication key version"),
    "start": ("应用启用日期", "start date"),
    "expiry": ("应用有效日期", "expiry date"),
}
"""The standard's names of the fields of :mod:`sbkcard.applet_model.psam.files`
(Part 9 tables 2–7)."""

_FACTOR_LEVELS = ("card", "city", "province")
"""The order DELIVERY SESSION KEY carries its factors in (Part 9 §9.7)."""


class PsamModel:
    """What a trace shows of a PSAM (see the module docstring)."""

    def __init__(self) -> None:
        self.env: Environment = DES_ENVIRONMENT
        self.in_adf = False
        self.ef: int | None = None

    @property
    def location(self) -> str:
        """The environment, the ADF if selected, and the current EF."""
        where = f"{self.env.label} environment"
        if self.in_adf:
            where += ", ADF DF01"
        return where if self.ef is None else f"{where}, EF {self.ef:04X}"

    def step(self, cmd: Cmd) -> Step:
        """What ``cmd`` means where the PSAM is now."""
        step = Step(cmd.name)
        if cmd.ins == 0xD4:
            step.notes.append(_secure_messaging(cmd))
        handler = _HANDLERS.get(cmd.ins)
        if handler is not None:
            handler(self, cmd, step)
        elif cmd.data:
            step.fields = layout_rows(PSAM_COMMANDS, cmd, cmd.data)
        if step.interpret is None:
            step.interpret = lambda answer: layout_rows(PSAM_RESPONSES, cmd, answer)
        return step

    def file_rows(self, fid: int | None, offset: int, data: bytes) -> list[Row]:
        """The content of EF ``fid`` read from ``offset``."""
        decoder = _FILES.get(fid) if fid is not None else None
        spec = file_spec(fid) if fid is not None else None
        if decoder is None or spec is None or offset:
            return hex_rows(data)
        try:
            value = decoder(data)
        except (SbkcardError, ValueError) as exc:
            return [Row(f"{spec.fid:04X}", spec.name, "", f"{data.hex().upper()} ({exc})")]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return [
                Row(
                    f"{spec.fid:04X}",
                    *_FIELD_NAMES.get(f.name, ("", f.name)),
                    text(getattr(value, f.name)),
                )
                for f in dataclasses.fields(value)
            ]
        return [Row(f"{spec.fid:04X}", spec.name, "", text(value))]


def _secure_messaging(cmd: Cmd) -> str:
    """CREATE/CHANGE KEY (Part 9 §7.1.2–7.1.3): always enciphered, always masked."""
    body = max(cmd.length - MAC_LENGTH, 0)
    return (
        f"secure messaging: {cmd.header} ‖ Lc {cmd.length:02X} ‖ [LD ‖ key record] "
        f"enciphered ({body} bytes) {masked(body)} ‖ MAC {masked(MAC_LENGTH)} (data bytes "
        f"{body + 1}–{cmd.length}, APDU bytes {body + 6}–{cmd.length + 5}); "
        "MAC by the ADF master key, IV = the PSAM's challenge"
    )


def _select(model: PsamModel, cmd: Cmd, step: Step) -> None:
    data = cmd.data or b""
    target: tuple[Environment, bool] | None = None
    ef: int | None = None
    if cmd.p1 == 0x04:
        step.notes.append(f"by DF name {quoted(data)}")
        target = next(((e, False) for e in ENVIRONMENTS if e.ddf_name == data), None)
        if target is None and data == ADF_AID:
            target = (model.env, True)
    elif cmd.p1 == 0x00:
        fid = int.from_bytes(data, "big") if data else DES_ENVIRONMENT.ddf_fid
        step.notes.append(f"by FID {fid:04X}")
        target = next(((e, False) for e in ENVIRONMENTS if e.ddf_fid == fid), None)
        if target is None and fid == ADF_FID:
            target = (model.env, True)
    elif cmd.p1 == 0x02 and len(data) == 2:
        ef = int.from_bytes(data, "big")
        spec = file_spec(ef)
        step.notes.append(f"EF {ef:04X} {spec.name if spec else '(not declared)'}")
    if target is not None:
        env, adf = target
        step.notes.append(f"→ {'ADF DF01' if adf else 'DDF'} of the {env.label} environment")
    step.interpret = lambda answer: ber_rows(answer)

    def apply(sw: int) -> None:
        if not success(sw):
            return
        if target is not None:
            model.env, model.in_adf = target
            model.ef = None
        elif ef is not None:
            model.ef = ef

    step.apply = apply


def _read_binary(model: PsamModel, cmd: Cmd, step: Step) -> None:
    fid = model.ef
    offset = (cmd.p1 << 8) | cmd.p2
    if cmd.p1 & 0x80:
        sfi = cmd.p1 & 0x1F
        spec = file_spec(sfi)
        fid, offset = (None if spec is None else spec.fid), cmd.p2
        step.notes.append(f"file: {spec.name if spec else 'not declared'}, by SFI {sfi:02X}")
    step.notes.append(f"from offset {offset:04X}")
    step.interpret = lambda answer: model.file_rows(fid, offset, answer)

    def apply(sw: int) -> None:
        if sw == 0x9000 and fid is not None:
            model.ef = fid

    step.apply = apply


def _read_record(model: PsamModel, cmd: Cmd, step: Step) -> None:
    sfi = cmd.p2 >> 3
    step.notes.append(f"record #{cmd.p1} of {'the current EF' if not sfi else f'SFI {sfi:02X}'}")
    step.interpret = lambda answer: ber_rows(answer)


def _delivery(model: PsamModel, cmd: Cmd, step: Step) -> None:
    levels, key_type = cmd.p1 >> 5, cmd.p1 & 0x1F
    found = _KEY_NAMES.get((key_type, cmd.p2))
    key = f" = {found[0]} {found[1]}" if found else ""
    step.notes.append(
        f"key: usage {cmd.p1:02X} (type {key_type:02X}, {levels} levels), ID {cmd.p2:02X}{key}"
    )
    if cmd.data is None:
        return
    size = model.env.block_size
    count, extra = divmod(len(cmd.data) - size, 8)
    if extra or not 0 <= count <= len(_FACTOR_LEVELS):
        step.fields = hex_rows(cmd.data)
        return
    for i in range(count):
        factor = cmd.data[8 * i : 8 * i + 8].hex().upper()
        step.fields.append(Row(f"{i + 1}", "分散因子", f"{_FACTOR_LEVELS[i]} factor", factor))
    session_input = cmd.data[8 * count :].hex().upper()
    step.fields.append(Row("", "过程因子", "session-key input", session_input))


def _cipher(model: PsamModel, cmd: Cmd, step: Step) -> None:
    try:
        mode = CipherMode(cmd.p1)
    except ValueError:
        step.notes.append(f"P1 {cmd.p1:02X}: no such mode")
        return
    step.notes.append(f"mode {mode.name}")
    if cmd.data is None:
        step.fields = [Row("", "明文", "clear data", f"{masked(cmd.length)} (masked)")]
    elif mode.is_mac:
        step.fields = [Row("", "MAC 输入", "MAC input", cmd.data.hex().upper())]
    else:
        step.fields = [Row("", "明文", "clear data", cmd.data.hex().upper())]


def _external(model: PsamModel, cmd: Cmd, step: Step) -> None:
    step.notes.append(f"key: KID-{cmd.p2:02X} (opens key file {0x0010 + cmd.p2:04X})")
    if cmd.data is not None:
        step.fields = layout_rows(PSAM_COMMANDS, cmd, cmd.data)


def _key(model: PsamModel, cmd: Cmd, step: Step) -> None:
    step.notes.append(f"into key file {cmd.p2:04X}")


_Handler = Callable[[PsamModel, Cmd, Step], None]

_HANDLERS: dict[int, _Handler] = {
    0xA4: _select,
    0xB0: _read_binary,
    0xB2: _read_record,
    0xDE: _delivery,
    0xFA: _cipher,
    0x82: _external,
    0xD4: _key,
}
"""INS → what the decoder reads from a PSAM command (Part 9 §9)."""
