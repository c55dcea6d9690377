"""Reading the basic information: issuer data and cardholder (S3 §1.1; Part 7 §5.4).

:func:`read_basic_info` is the first call of every transaction (S3 App. C note 1).  It
uses what :meth:`~sbkcard.terminal.connection.Connection.open` already read (the SSSE
FCI and EF05, two or three APDUs) and adds, in the fewest commands the card allows:

1. card authenticity — INTERNAL AUTHENTICATE with the IRK, checked through the PSAM or
   HSM (Part 7 §5.4; :func:`sbkcard.terminal.operations.auth.check_authenticity`);
2. on a 3.0 card, EXTERNAL AUTHENTICATE with RKSSSE, which opens EF06 (S3 §10.2);
3. EF06 in one READ RECORD "P1 to last" by SFI, the name joined from ``09`` and ``4E``.

With T=0's GET RESPONSE that is 6 card APDUs on a 2.0 card and 8 on a 3.0 card (SELECT
+ GET RESPONSE, EF05, INTERNAL AUTHENTICATE + GET RESPONSE, [GET CHALLENGE, EXTERNAL
AUTHENTICATE,] EF06); :attr:`BasicInfo.apdus` reports the count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sbkcard.applet_model.data_items import FILE_ITEMS
from sbkcard.applet_model.records import IssuerData
from sbkcard.applet_model.ssse import Layout
from sbkcard.keys.ciphers import Algorithm
from sbkcard.terminal.connection import SSSE, Connection, decode_records
from sbkcard.terminal.operations.auth import check_authenticity
from sbkcard.terminal.operations.values import item_text


@dataclass(frozen=True)
class Cardholder:
    """SSSE EF06, 持卡人基本信息 (S2 §8.1.2), each item as the interface writes it."""

    ssn: str
    name: str
    gender: str
    ethnicity: str
    birthplace: str
    birth_date: str

    @property
    def birthday(self) -> dt.date | None:
        """The date of birth as a date (``None`` when the card has none)."""
        return _date(self.birth_date)


@dataclass(frozen=True)
class BasicInfo:
    """What iReadCardBas returns (S3 §1.1.2), plus what the terminal learned on the way."""

    issuer: IssuerData
    holder: Cardholder
    atr: bytes
    history: bytes
    algorithm: Algorithm
    genuine: bool
    """Whether the IRK internal authentication was done (and passed)."""
    terminal_number: str
    device_number: str
    apdus: int
    """Card APDUs this connection has exchanged so far (GET RESPONSE included)."""

    @property
    def region(self) -> str:
        """发卡地区行政区划代码 (the card identification code's first 6 characters)."""
        return "" if self.issuer.card_id is None else self.issuer.card_id.region

    @property
    def issue_date(self) -> dt.date | None:
        """发卡日期."""
        return self.issuer.issue_date

    @property
    def expiry(self) -> dt.date | None:
        """卡有效期."""
        return self.issuer.expiry


def _date(digits: str) -> dt.date | None:
    if len(digits) != 8 or not digits.isdigit():
        return None
    return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def read_cardholder(conn: Connection) -> Cardholder:
    """EF06 in one READ RECORD (after RKSSSE on a 3.0 card, S3 §10.2)."""
    ef06 = conn.ef(SSSE, 0x06)
    conn.select(SSSE)
    conn.require(ef06.read)
    items = FILE_ITEMS["SSSE/EF06"]
    with conn.card.during("reading the cardholder data (EF06)"):
        values = decode_records(conn.read_all_records(0x06, items, "READ RECORD SSSE EF06"))
    texts = {
        item.field: item_text(item, values[item.tag, 1])
        for item in items
        if item.tag is not None and (item.tag, 1) in values
    }
    name = texts.get("name", "")
    if conn.layout is not Layout.V1:
        name += texts.get("name_ext", "")
    return Cardholder(
        ssn=texts.get("ssn", ""),
        name=name,
        gender=texts.get("gender", ""),
        ethnicity=texts.get("ethnicity", ""),
        birthplace=texts.get("birthplace", ""),
        birth_date=texts.get("birth_date", ""),
    )


def read_basic_info(conn: Connection, *, authenticate: bool = True) -> BasicInfo:
    """Issuer data and cardholder, the card authenticated first when ``authenticate``.

    A 3.0 card always needs the security module (EF06 is behind RKSSSE); a 2.0 card read
    with ``authenticate=False`` needs none.
    """
    if authenticate:
        check_authenticity(conn)
    return basic_info(conn, read_cardholder(conn), genuine=authenticate)


def basic_info(conn: Connection, holder: Cardholder, *, genuine: bool) -> BasicInfo:
    """The basic information of the card in ``conn`` once its cardholder data are read.

    ``genuine`` says whether its IRK answer was checked (here or, in HSM mode, by the
    business system with the HSM's answer).
    """
    issuer = conn.issuer
    assert issuer is not None
    ctx = conn.ctx
    return BasicInfo(
        issuer=issuer,
        holder=holder,
        atr=ctx.atr,
        history=ctx.history,
        algorithm=ctx.algorithm,
        genuine=genuine,
        terminal_number=conn.terminal_number(),
        device_number=conn.device_number,
        apdus=conn.card.apdu_count,
    )
