"""What the standard says the card answers: the facts of the conformance suite, as data.

Transcribed from the standard's tables (Part 3 §6; S2 tables 3, 9; Part 2 §8.4; Part 5), not from
the card's code, so that the suite is an independent oracle.  The demo card's expected
records are its documented data (:mod:`sbkcard.applet_model.user_card.personalise`)
encoded here with the identifiers' ``an``/``cn`` codecs in the order of the tables.
"""

from __future__ import annotations

from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_EXPIRY,
    DEMO_ISSUE_DATE,
)
from sbkcard.identifiers import encode_an, encode_cn, encode_date

AID = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
"""The SSSE's DF name: "sx1.sh." followed by GBK "社会保障" (Part 3 §6.2)."""
SELECT_SSSE = bytes.fromhex("00A404000F") + AID
"""SELECT by name, the only way to select the SSSE (Part 3 §6.4)."""
FCI_LENGTH = 0x1E
"""The SSSE FCI is 30 bytes, announced as ``61 1E`` on T=0 (as real cards answer)."""

ALGORITHM = {2: 0x01, 3: 0x03}
"""FCI tag ``86`` of the demo cards: 01 DES/3DES ("2.00"), 03 SM4 ("3.00") (S3 §10.1)."""
ALGORITHM_CODES = frozenset({0x01, 0x02, 0x03})
"""Every algorithm identifier S3 §10.1 defines: DES/3DES, SSF33, SM4."""
VERSION = {2: "2.00", 3: "3.00"}
"""EF05 tag ``03`` of the demo cards (S2 §8.1.1.3)."""
BLOCK_SIZE = {0x01: 8, 0x02: 16, 0x03: 16}
"""Block size of each algorithm (Part 4 §8.4): GET CHALLENGE ``10`` only makes sense on 16."""

EF05_ITEMS: tuple[tuple[int, int], ...] = (
    (0x01, 0x10),  # 卡的识别码 cn 16
    (0x02, 0x01),  # 卡的类别 an 1
    (0x03, 0x04),  # 规范版本 an 4
    (0x04, 0x0C),  # 初始化机构编号 cn 12
    (0x05, 0x04),  # 发卡日期 cn 4
    (0x06, 0x04),  # 卡有效期 cn 4
    (0x07, 0x09),  # 卡号 an 9
)
"""SSSE EF05 (SFI 05), record by record: (tag, length) (S2 table 9)."""
EF06_ITEMS: tuple[tuple[int, int], ...] = (
    (0x08, 0x12),  # 社会保障号码 an 18
    (0x09, 0x1E),  # 姓名 an 30
    (0x4E, 0x14),  # 姓名扩展 an 20 (V2.0+)
    (0x0A, 0x01),  # 性别 an 1
    (0x0B, 0x01),  # 民族 cn 1
    (0x0C, 0x03),  # 出生地 cn 3
    (0x0D, 0x04),  # 出生日期 cn 4
)
"""SSSE EF06 (SFI 06) in record order 08 09 4E 0A 0B 0C 0D (S2 table 9, real-card order)."""
EF05_ALL = 0x40
"""READ RECORD "P1 to last" of EF05 answers 0x40 bytes (as real cards answer)."""
EF06_ALL = 0x5B
"""… and of EF06 0x5B bytes (as real cards answer)."""

SFI_EF05, SFI_EF06, SFI_EF07 = 0x05, 0x06, 0x07
"""Short file identifiers of SSSE EF05–EF07 (S2 table 3)."""
DF04_AID = bytes.fromhex("D15600000503")
"""DF04 社会保险信息区2 (medical), PIN or RK1DF04 to read EF05 (S2 table 7)."""


def record_p2(sfi: int, mode: int) -> int:
    """READ RECORD P2: SFI in b8–b4, the reference mode in b3–b1 (Part 5 table 32)."""
    return (sfi << 3) | mode


BY_NUMBER, FROM_P1_TO_LAST, LAST_TO_P1 = 0b100, 0b101, 0b110
"""Part 5 table 32: record P1; from record P1 to the last; from the last back to P1."""
FIRST, LAST, NEXT, PREVIOUS = 0b000, 0b001, 0b010, 0b011
"""Part 5 table 32: first / last / next / previous occurrence of identifier P1."""


def records_length(items: tuple[tuple[int, int], ...]) -> int:
    """Bytes of all records as simple TLV (tag, length, value; Part 3 §5.3.1)."""
    return sum(2 + length for _, length in items)


def tlv(tag: int, value: bytes) -> bytes:
    """One record: ``tag len value`` (Part 3 §5.3.1)."""
    return bytes((tag, len(value))) + value


def fci(algorithm: int) -> bytes:
    """``6F 1C 84 0F <AID> A5 09 88 01 1E 9F 0C 03 86 01 xx`` (real cards, byte for byte)."""
    issuer = bytes((0x86, 0x01, algorithm))
    proprietary = bytes((0x88, 0x01, 0x1E, 0x9F, 0x0C, len(issuer))) + issuer
    template = tlv(0x84, AID) + tlv(0xA5, proprietary)
    return tlv(0x6F, template)


def demo_ef05(generation: int) -> bytes:
    """SSSE EF05 of the demo card of ``generation``, records 01–07 (S2 §8.1.1)."""
    region = DEMO_CARD_ID.region
    return b"".join(
        [
            tlv(0x01, DEMO_CARD_ID.to_bytes()),
            tlv(0x02, encode_an("3", 1, field="card type")),
            tlv(0x03, encode_an(VERSION[generation], 4, field="version")),
            tlv(0x04, encode_cn(f"9156000002{region}{region}01", 12, field="init org")),
            tlv(0x05, encode_date(DEMO_ISSUE_DATE, field="issue date")),
            tlv(0x06, encode_date(DEMO_EXPIRY, field="expiry")),
            tlv(0x07, encode_an(DEMO_CARD_NUMBER, 9, field="card number")),
        ]
    )


def demo_ef06() -> bytes:
    """SSSE EF06 of the demo card, records 08 09 4E 0A 0B 0C 0D (S2 §8.1.2)."""
    holder = DEMO_CARDHOLDER
    return b"".join(
        [
            tlv(0x08, encode_an(holder.ssn, 0x12, field="ssn")),
            tlv(0x09, encode_an(holder.name, 0x1E, field="name")),
            tlv(0x4E, encode_an("", 0x14, field="name extension")),
            tlv(0x0A, encode_an(holder.gender, 1, field="gender")),
            tlv(0x0B, encode_cn(holder.ethnicity, 1, field="ethnicity")),
            tlv(0x0C, encode_cn(holder.birthplace, 3, field="birthplace")),
            tlv(0x0D, encode_date(holder.birth_date, field="birth date")),
        ]
    )


def pin_data(pin: str) -> bytes:
    """A PIN as VERIFY carries it: ``cn``, F-padded to whole bytes (Part 5 §6.14)."""
    return bytes.fromhex(pin + "F" * (len(pin) % 2))
