"""The user card's personalisation commands: CREATE FILE and WRITE KEY (Part 10 §5.2).

COS-specific (Part 10 §5.2.5 names no command); the host side is
:mod:`sbkcard.applet_model.user_card.personalise`.
"""

from __future__ import annotations

import bisect

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.secure_messaging import verify_mac
from sbkcard.apdu.status import SW
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.user_card.core import CardCore, Reply, sw_only
from sbkcard.applet_model.user_card.fcp import (
    MF,
    MF_FID,
    DfHeader,
    EfHeader,
    HeaderError,
    KeyRecord,
    body_key,
    counter_key,
    decode_header,
    header_key,
    key_record_key,
    pin_key,
)
from sbkcard.applet_model.user_card.pin_commands import pin_bytes
from sbkcard.applet_model.user_card.session import home_of
from sbkcard.keys import CryptoError, decrypt_data

__all__ = ["PersonalisationCommands"]


class PersonalisationCommands(CardCore):
    """CREATE FILE and WRITE KEY under the master key in control (Part 10 §5.2)."""

    def _create_file(self, cmd: CommandAPDU) -> Reply:
        """CREATE FILE ``80 E0 00 00`` (COS-specific; Part 10 §5.2.2–5.2.4)."""
        s = self._session
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if not cmd.data:
            raise CardRefusal(SW.WRONG_LENGTH)
        authority = self._master_df(s.df)
        if authority is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if (authority, self._masters[authority]) not in s.auths:
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        try:
            header = decode_header(cmd.data)
        except (HeaderError, IndexError):
            raise CardRefusal(SW.WRONG_DATA) from None
        if header.fid == MF_FID:
            raise CardRefusal(SW.WRONG_DATA)
        path = header.name if s.df == MF else f"{s.df}/{header.name}"
        if self._conflicts(s.df, path, header):
            raise CardRefusal(SW.FILE_NOT_FOUND)
        writes = {header_key(path): cmd.data}
        if isinstance(header, EfHeader):
            writes[body_key(path)] = header.initial_body()
        self._write(writes)
        self._index_file(path, header)
        bisect.insort(self._children[s.df], path)
        return sw_only(SW.OK)

    def _conflicts(self, df: str, path: str, header: EfHeader | DfHeader) -> bool:
        if path in self._headers:
            return True
        for sibling in self._children.get(df, ()):
            other = self._headers[sibling]
            if header.fid is not None and other.fid == header.fid:
                return True
            if (
                isinstance(header, EfHeader)
                and isinstance(other, EfHeader)
                and header.sfi is not None
                and header.sfi == other.sfi
            ):
                return True
        if isinstance(header, DfHeader) and header.aid:
            return any(aid == header.aid for _, aid in self._named)
        return False

    def _write_key(self, cmd: CommandAPDU) -> Reply:
        """WRITE KEY ``84 D4 P1 P2`` (COS-specific; Part 10 §5.2.5–5.2.6, §6.1.2).

        P1 ``00``: a key, P2 its KID; P1 ``01``: the PIN of the current DF. The data is
        the plaintext encrypted under the master key in control (LD ‖ data, ``80``-padded,
        ECB; Part 4 §8.3), then a MAC under the same key with the card's challenge as IV
        (as the PSAM's key commands, Part 9 §7.1.3).
        """
        s = self._session
        if cmd.p1 not in (0x00, 0x01) or (cmd.p1 == 0x01 and cmd.p2):
            raise CardRefusal(SW.WRONG_P1P2)
        authority = self._master_df(s.df)
        if authority is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        master = self._key(authority, self._masters[authority])
        assert master is not None
        size = master.algorithm.block_size
        body = cmd.data[:-4]
        if not body or len(body) % size:
            raise CardRefusal(SW.WRONG_LENGTH)
        challenge = s.take_challenge()
        if challenge is None or len(challenge) > size:
            raise CardRefusal(SW.REF_DATA_INVALID)
        if not verify_mac(cmd, master.key, master.algorithm, iv=challenge):
            raise CardRefusal(SW.SM_INCORRECT)
        try:
            plain = decrypt_data(master.key, body, master.algorithm)
        except CryptoError:
            raise CardRefusal(SW.WRONG_DATA) from None
        if cmd.p1 == 0x01:
            if (
                not plain
                or not 1 <= plain[0] <= 0x0F
                or (plain[1:] and pin_bytes(plain[1:]) is None)
            ):
                raise CardRefusal(SW.WRONG_DATA)
            self._write({pin_key(s.df): plain, counter_key(s.df, None): plain[:1]})
            self._pins.add(s.df)
            return sw_only(SW.OK)
        try:
            record = KeyRecord.from_bytes(plain)
        except HeaderError:
            raise CardRefusal(SW.WRONG_DATA) from None
        home = home_of(s.df, cmd.p2)
        if home not in self._headers:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        writes = {key_record_key(home, cmd.p2, record.version): plain}
        if record.tries:
            writes[counter_key(home, cmd.p2)] = bytes((record.tries,))
        self._write(writes)
        self._index_key(home, cmd.p2, record.version, record)
        return sw_only(SW.OK)
