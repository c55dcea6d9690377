"""The co-branded financial application, as far as selection (JR/T 0025 PSE and AID).

A third-generation card may carry a bank's PBOC application beside the SSSE.  This
model answers SELECT of the payment system environment ``1PAY.SYS.DDF01`` (FCI with
the directory's SFI), READ RECORD of that directory (one entry ``61 [4F AID][50
label][87 priority]``) and SELECT of the application's AID; anything else is
``6D00``.  Its data live under ``fin:`` in storage, apart from the SSSE's files, and it
is reached only through its own names: a terminal that selects the SSSE never reaches it.
"""

from __future__ import annotations

from sbkcard.apdu import ApduFormatError, CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.applet_model.storage import Storage

__all__ = ["PBOC_AID", "PSE_NAME", "FinancialApplication", "financial_content"]

PSE_NAME = b"1PAY.SYS.DDF01"
PBOC_AID = bytes.fromhex("A000000333010101")
"""The PBOC debit application (JR/T 0025.5 AID of UnionPay debit)."""
_AID_KEY = "fin:aid"
_LABEL_KEY = "fin:label"
_DIR_SFI = 1


def _tlv(tag: int, value: bytes) -> bytes:
    raw = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    return raw + bytes((len(value),)) + value


def financial_content(aid: bytes = PBOC_AID, label: bytes = b"UnionPay Debit") -> dict[str, bytes]:
    """The storage entries of a card with the financial application ``aid``."""
    return {_AID_KEY: aid, _LABEL_KEY: label}


class FinancialApplication:
    """The bank application's PSE and ADF selection over the card's storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._in_pse = False

    @property
    def aid(self) -> bytes | None:
        """The application's AID, ``None`` when the card carries none."""
        return self.storage.read(_AID_KEY)

    def owns(self, name: bytes) -> bool:
        """Whether ``name`` is the PSE or the application's AID on this card."""
        return self.aid is not None and name in (PSE_NAME, self.aid)

    def leave(self) -> None:
        """Another application was selected."""
        self._in_pse = False

    def process(self, apdu: bytes) -> bytes:
        """One command APDU → data ‖ SW1 SW2."""
        data, sw = self._answer(apdu)
        return data + sw.to_bytes(2, "big")

    def _answer(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            cmd = CommandAPDU.from_bytes(apdu)
        except ApduFormatError:
            return b"", SW.WRONG_LENGTH
        aid = self.aid or b""
        label = self.storage.read(_LABEL_KEY) or b""
        if cmd.cla != 0x00:
            return b"", SW.CLA_NOT_SUPPORTED
        if cmd.ins == 0xA4:
            if cmd.p1 != 0x04:
                return b"", SW.FILE_NOT_FOUND
            if cmd.data == PSE_NAME:
                self._in_pse = True
                prop = _tlv(0x88, bytes((_DIR_SFI,))) + _tlv(0x5F2D, b"zh")
                return _tlv(0x6F, _tlv(0x84, PSE_NAME) + _tlv(0xA5, prop)), SW.OK
            if cmd.data == aid:
                self._in_pse = False
                prop = _tlv(0x50, label) + _tlv(0x87, b"\x01")
                return _tlv(0x6F, _tlv(0x84, aid) + _tlv(0xA5, prop)), SW.OK
            return b"", SW.FILE_NOT_FOUND
        if cmd.ins == 0xB2:
            if not self._in_pse or cmd.p2 != (_DIR_SFI << 3) | 0x04:
                return b"", SW.FILE_NOT_FOUND
            if cmd.p1 != 1:
                return b"", SW.RECORD_NOT_FOUND
            entry = _tlv(0x61, _tlv(0x4F, aid) + _tlv(0x50, label) + _tlv(0x87, b"\x01"))
            return _tlv(0x70, entry), SW.OK
        return b"", SW.INS_NOT_SUPPORTED
