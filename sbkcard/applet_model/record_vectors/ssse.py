"""VECTORS of the SSSE's own files: EF05–EF08 (S2 table 3)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import Cardholder, IssuerData
from sbkcard.identifiers import CardId

IssuerData.VECTORS = (
    # a real card's card identification code (tag 01, serial 10000B26, no auth code yet),
    # card type 3 (S2 table 11), version 2.01 (§8.1.1.3), the initialising organisation of
    # §8.1.1.4's example (Beijing: 91 56 00 00 02 11 00 00 11 01 00 02), no expiry (FFFFFFFF)
    (
        bytes.fromhex(
            "0110519900D15600000510000B26FFFFFFFF0201330304322E3031040C915600000211000011010002"
            "0504201001150604FFFFFFFF0709413030303030303131"
        ),
        IssuerData(
            card_id=CardId.from_hex("519900D15600000510000B26FFFFFFFF"),
            card_type="3",
            version="2.01",
            init_org="915600000211000011010002",
            issue_date=datetime.date(2010, 1, 15),
            expiry=None,
            card_number="A00000011",
        ),
    ),
)
Cardholder.VECTORS = (
    # a name of 16 GBK characters: 15 (30 bytes) in 09, the 16th in 4E (S3 §10.2);
    # ethnicity 05 (GB 3304), birthplace 650100 (GB/T 2260)
    (
        bytes.fromhex(
            "0812313130313031313939303033303731323330091EB0A2B2B7B6C5C8C8BACFC2FCA1A4C2F2C2F2CCE1"
            "B0ACC1A6A1A4CDC2B6FB4E14D1B70000000000000000000000000000000000000A01310B01050C0365"
            "01000D0419900307"
        ),
        Cardholder(
            ssn="110101199003071230",
            name="阿卜杜热合曼·买买提艾力·吐尔逊",
            gender="1",
            ethnicity="05",
            birthplace="650100",
            birth_date=datetime.date(1990, 3, 7),
        ),
    ),
)
