"""VECTORS of the SSSE's own files: EF05–EF08 (S2 table 3)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import Cardholder, Fingerprint, IssuerData, Photo
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
    # a Zhengzhou 3.00 card whose card number is appendix A2's worked example: body
    # D2143569 (D = 13, a district's letter, S2 A1.2), check character X; card identification
    # code 410100 ‖ D156000005 ‖ serial 02140358 ‖ an authentication code (invented:
    # the issuer computes it with its own key, S2 §8.1.1.1); initialising organisation
    # 91 56 00 00 02 ‖ 410100 ‖ 410100 ‖ 01 (S2 table 12); valid ten years
    (
        bytes.fromhex(
            "0110410100D156000005021403587A3E19C4"  # 01 卡的识别码 cn 10
            "020133"  # 02 卡的类别 an 01: "3" 成年人卡 (S2 table 11)
            "0304332E3030"  # 03 规范版本 an 04: "3.00"
            "040C915600000241010041010001"  # 04 初始化机构编号 cn 0C
            "050420210618"  # 05 发卡日期 cn 04: 2021-06-18
            "060420310618"  # 06 卡有效期 cn 04: 2031-06-18
            "0709443231343335363958"  # 07 卡号 an 09: "D2143569X"
        ),
        IssuerData(
            card_id=CardId.from_hex("410100D156000005021403587A3E19C4"),
            card_type="3",
            version="3.00",
            init_org="915600000241010041010001",
            issue_date=datetime.date(2021, 6, 18),
            expiry=datetime.date(2031, 6, 18),
            card_number="D2143569X",
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

Fingerprint.VECTORS = (
    # EF07 is a 预设 file (S2 table 3): 0x300 bytes, defined but not yet in use, so the
    # standard gives no template format; the file as personalised, all 00
    (bytes(0x300), Fingerprint(fingerprint=bytes(0x300))),
)

# A small complete baseline JPEG (S2 table 15: JPEG, 24-bit colour): 8×8 pixels of
# grey 128, three components sharing one quantisation table of 1s and one-code Huffman
# tables (DC category 0, AC end-of-block), 169 bytes; the rest of the 0x1000 bytes 00.
_JPEG = bytes.fromhex(
    "FFD8"  # SOI
    "FFE000104A46494600010101015E015E0000"  # APP0 JFIF 1.01, 350 × 350 dpi (> 300, table 15)
    "FFDB004300"  # DQT table 0, 8-bit, all 64 entries 1
    "01010101010101010101010101010101010101010101010101010101010101010101010101010101"
    "010101010101010101010101010101010101010101010101"
    "FFC00011080008000803011100021100031100"  # SOF0 8×8, Y Cb Cr 1×1, table 0
    "FFC40014000100000000000000000000000000000000"  # DHT DC 0: one code, length 1 → category 0
    "FFC40014100100000000000000000000000000000000"  # DHT AC 0: one code, length 1 → EOB (00)
    "FFDA000C03010002000300003F00"  # SOS Y Cb Cr, tables 0/0, spectral 0–63
    "03"  # entropy data: 0 0 per block (DC 0, EOB) × 3 = 000000, padded with 1s
    "FFD9"  # EOI
)
Photo.VECTORS = (
    # EF08 is a 预设 file (S2 table 3): 0x1000 bytes (table 15: 4096), as personalised, all 00
    (bytes(0x1000), Photo(photo=bytes(0x1000))),
    # a photo written from offset 0, the JPEG then 00 up to 0x1000
    (_JPEG + bytes(0x1000 - 169), Photo(photo=_JPEG.ljust(0x1000, b"\x00"))),
)
