"""SELECT and the file commands of the user card: READ/UPDATE BINARY, READ/UPDATE RECORD.

Part 5 §6.9–§6.13; an EF is addressed by SFI or as the current EF, a DF by FID or name.
"""

from __future__ import annotations

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW, wrong_le
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.tree import Structure
from sbkcard.applet_model.user_card import recordfile
from sbkcard.applet_model.user_card.core import CardCore, Reply, sw_only
from sbkcard.applet_model.user_card.fcp import MF, DfHeader, EfHeader, body_key, parent

__all__ = ["FileCommands"]

_MULTI_RECORD_MAX = 256


class FileCommands(CardCore):
    """SELECT, READ BINARY, UPDATE BINARY, READ RECORD, UPDATE RECORD (Part 5 §6.9–§6.13)."""

    def _select(self, cmd: CommandAPDU) -> Reply:
        """SELECT (Part 5 §6.11): MF/DF by FID, EF under the current DF, DF by name.

        In a blocked application only the SELECT of another application succeeds; any
        other SELECT (an EF inside it, a file not found, wrong P1-P2) answers ``9303``
        (Part 7 §13.2).
        """
        s = self._session
        blocked = self._blocked_df(s.df)
        try:
            reply = self._select_file(cmd)
        except CardRefusal:
            if not blocked:
                raise
            reply = sw_only(SW.APP_BLOCKED)
        if blocked and (reply[1] != SW.OK or self._blocked_df(s.df)):
            s.ef = None
            raise CardRefusal(SW.APP_BLOCKED)
        return reply

    def _select_file(self, cmd: CommandAPDU) -> Reply:
        s = self._session
        if cmd.p2 not in (0x00, 0x02) or (cmd.p2 == 0x02 and cmd.p1 != 0x04):
            raise CardRefusal(SW.WRONG_P1P2)
        if cmd.p1 == 0x04:
            if not 5 <= len(cmd.data) <= 16:
                raise CardRefusal(SW.WRONG_LENGTH)
            return self._select_name(cmd.data, following=cmd.p2 == 0x02)
        if cmd.p1 == 0x00:
            if not cmd.data or cmd.data == b"\x3f\x00":
                return self._enter(MF)
            if len(cmd.data) != 2:
                raise CardRefusal(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            path = self._find_fid(fid)
        elif cmd.p1 == 0x02:
            if len(cmd.data) != 2:
                raise CardRefusal(SW.WRONG_LENGTH)
            fid = int.from_bytes(cmd.data, "big")
            path = self._child(s.df, lambda h: isinstance(h, EfHeader) and h.fid == fid)
        else:
            raise CardRefusal(SW.WRONG_P1P2)
        if path is None:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        if isinstance(self._headers[path], DfHeader):
            return self._enter(path)
        s.select_ef(path)
        return sw_only(SW.OK)

    def _find_fid(self, fid: int) -> str | None:
        df = self._session.df
        path = self._child(df, lambda h: h.fid == fid)
        if path is not None or df == MF:
            return path
        up = parent(df)
        path = self._child(up, lambda h: isinstance(h, DfHeader) and h.fid == fid)
        if path is None and self._headers[up].fid == fid:
            return up
        return path

    def _select_name(self, name: bytes, *, following: bool) -> Reply:
        current = self._session.df
        for path, aid in self._named:
            if aid.startswith(name) and (not following or path > current):
                return self._enter(path)
        raise CardRefusal(SW.FILE_NOT_FOUND)

    def _enter(self, path: str) -> Reply:
        self._session.enter_df(path)
        if self._blocked_df(path):
            raise CardRefusal(SW.APP_BLOCKED)
        header = self._headers[path]
        assert isinstance(header, DfHeader)
        return header.fci(), SW.OK

    # -- files ---------------------------------------------------------------------------------

    def _target(self, sfi: int) -> str:
        """The EF a command addresses: by SFI (then current) or the current EF."""
        s = self._session
        if sfi == 0:
            if s.ef is None:
                raise CardRefusal(SW.NO_CURRENT_EF)
            return s.ef
        path = self._ef_by_sfi(sfi)
        if path is None:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        s.select_ef(path)
        return path

    def _binary_address(self, cmd: CommandAPDU) -> tuple[str, EfHeader, int]:
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60 or not cmd.p1 & 0x1F:
                raise CardRefusal(SW.WRONG_P1P2)
            target = self._target(cmd.p1 & 0x1F)
            offset = cmd.p2
        else:
            target = self._target(0)
            offset = (cmd.p1 << 8) | cmd.p2
        header = self._headers[target]
        assert isinstance(header, EfHeader)
        if header.structure is not Structure.TRANSPARENT:
            raise CardRefusal(SW.INCOMPATIBLE_FILE)
        return target, header, offset

    def _read_binary(self, cmd: CommandAPDU) -> Reply:
        """READ BINARY (Part 5 §6.9)."""
        if cmd.data:
            raise CardRefusal(SW.WRONG_LENGTH)
        path, header, offset = self._binary_address(cmd)
        if not self._allowed(header.read, parent(path)):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        body = self.storage.read(body_key(path)) or b""
        if offset >= len(body):
            raise CardRefusal(SW.WRONG_OFFSET)
        remaining = len(body) - offset
        if cmd.le is None or cmd.le == 256:
            count = min(256, remaining)
        elif cmd.le > remaining:
            raise CardRefusal(wrong_le(remaining))
        else:
            count = cmd.le
        return body[offset : offset + count], SW.OK

    def _update_binary(self, cmd: CommandAPDU) -> Reply:
        """UPDATE BINARY (Part 5 §6.12), CLA ``04`` with a MAC under the DF's STK."""
        data = self._unwrap(cmd) if cmd.cla == 0x04 else cmd.data
        if not data:
            raise CardRefusal(SW.WRONG_LENGTH)
        path, header, offset = self._binary_address(cmd)
        if not self._allowed(header.write, parent(path)):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        body = self.storage.read(body_key(path)) or b""
        if offset >= len(body):
            raise CardRefusal(SW.WRONG_OFFSET)
        if offset + len(data) > len(body):
            raise CardRefusal(SW.WRONG_LENGTH)
        self._write({body_key(path): body[:offset] + data + body[offset + len(data) :]})
        return sw_only(SW.OK)

    def _record_file(self, cmd: CommandAPDU) -> tuple[str, EfHeader]:
        if cmd.p2 >> 3 == 0x1F or cmd.p2 & 0x07 == 0x07:
            raise CardRefusal(SW.WRONG_P1P2)
        target = self._target(cmd.p2 >> 3)
        header = self._headers[target]
        assert isinstance(header, EfHeader)
        if not header.structure.records:
            raise CardRefusal(SW.INCOMPATIBLE_FILE)
        return target, header

    def _read_record(self, cmd: CommandAPDU) -> Reply:
        """READ RECORD (Part 5 §6.10): by number, P1 to last, last to P1, by identifier.

        A COS without the optional range modes answers them with its refusal status
        word (``6A81`` or ``6A86``, Part 5 table 33; ISO/IEC 7816-4 §7.3.3).
        """
        if cmd.data:
            raise CardRefusal(SW.WRONG_LENGTH)
        if self._range_refusal is not None and cmd.p2 & 0x07 in (0x05, 0x06):
            raise CardRefusal(self._range_refusal)
        path, header = self._record_file(cmd)
        if not self._allowed(header.read, parent(path)):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        s = self._session
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(path)) or b""
        )
        mode = cmd.p2 & 0x07
        if mode >= 4:
            start = cmd.p1 - 1 if cmd.p1 else s.record
            if start is None or start >= len(records):
                raise CardRefusal(SW.RECORD_NOT_FOUND)
            if mode == 4:
                out = records[start]
            else:
                chosen = records[start:] if mode == 5 else records[start:][::-1]
                out = b""
                for record in chosen:
                    if len(out) + len(record) > _MULTI_RECORD_MAX:
                        break
                    out += record
            index = s.record
        else:
            hit = recordfile.find(records, cmd.p1, mode, s.record)
            if hit is None:
                raise CardRefusal(SW.RECORD_NOT_FOUND)
            index = hit
            out = records[hit]
        if cmd.le is None or cmd.le > len(out) or (cmd.le == 256 and len(out) != 256):
            raise CardRefusal(wrong_le(len(out)))
        s.record = index
        return out[: cmd.le], SW.OK

    def _update_record(self, cmd: CommandAPDU) -> Reply:
        """UPDATE RECORD (Part 5 §6.13): replace or append; cyclic files append on "previous"."""
        data = self._unwrap(cmd) if cmd.cla == 0x04 else cmd.data
        if not data:
            raise CardRefusal(SW.WRONG_LENGTH)
        mode = cmd.p2 & 0x07
        if mode > 4:
            raise CardRefusal(SW.WRONG_P1P2)
        path, header = self._record_file(cmd)
        if not self._allowed(header.write, parent(path)):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        s = self._session
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(path)) or b""
        )
        structure = header.structure
        if structure is Structure.LINEAR_VARIABLE:
            if not recordfile.valid_tlv_record(data):
                raise CardRefusal(SW.LC_TLV_INCONSISTENT)
            if mode < 4 and cmd.p1 and data[0] != cmd.p1:
                raise CardRefusal(SW.WRONG_DATA)
        elif len(data) != header.record_length:
            raise CardRefusal(SW.WRONG_LENGTH)
        if mode == 4:
            index = cmd.p1 - 1 if cmd.p1 else s.record
            if index is None:
                raise CardRefusal(SW.RECORD_NOT_FOUND)
        elif structure is Structure.CYCLIC and mode == recordfile.PREVIOUS:
            index = -1
        else:
            index = recordfile.find(records, cmd.p1, mode, s.record)
            if index is None:
                if structure is not Structure.LINEAR_VARIABLE:
                    raise CardRefusal(SW.RECORD_NOT_FOUND)
                index = len(records)
        if index == -1:
            records = [data, *records][: header.records]
            index = 0
        elif index < len(records):
            records[index] = data
        elif index == len(records) and structure is Structure.LINEAR_VARIABLE:
            records.append(data)
        else:
            raise CardRefusal(SW.RECORD_NOT_FOUND)
        body = recordfile.join(records)
        if len(body) > header.capacity:
            raise CardRefusal(SW.NO_SPACE)
        self._write({body_key(path): body})
        if mode < 4 or not cmd.p1:
            s.record = index
        return sw_only(SW.OK)
