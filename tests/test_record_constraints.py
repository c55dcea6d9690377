"""Rules of S2 beyond one item: ``60`` in one file of two (§7), 附表二 lengths on 1.00 cards.

Every body here is written by hand from S2 table 9 (tag, length, value), not by the
encoder.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path

import pytest

from sbkcard.applet_model.records import (
    ABSENT,
    EmploymentStatus,
    FileContent,
    HouseholdRegistration,
    MedicalInsurance,
    RecordError,
    RegistrationCertificate,
    UnemploymentInsurance,
    check_one_of,
)
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARDHOLDER,
    DEMO_ISSUE_DATE,
    PersonalisationError,
    card_atr,
    demo_card_content,
    user_card_content,
)
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys
from sbkcard.simulator import ImageError, SimulatedCard, load_image, save_image
from sbkcard.simulator.image_checks import check_content

DF02_EF06 = "SSSE/DF02/EF06"
DF03_EF05 = "SSSE/DF03/EF05"

# DF02 EF06 of a worker registered unemployed on 2023-06-15, with and without 60
EF06_WITH_60 = bytes.fromhex(
    "4C0420150301"  # 4C 最近一次办理就业登记日期 cn 04: 2015-03-01
    "4B053230303130"  # 4B 就业登记类型及形式 an 05: "20010"
    "4D03410102"  # 4D 就业登记地行政区划代码 cn 03: 410102
    "600420230615"  # 60 最近一次办理失业登记日期 cn 04: 2023-06-15
    "4F06313032303030"  # 4F 失业登记类型、原因及注销原因 an 06: "102000"
    "5003410102"  # 50 失业登记地行政区划代码 cn 03: 410102
    "3A0700000000000000"  # 3A 现从事职业 an 07: none
)
EF06_WITHOUT_60 = EF06_WITH_60.replace(bytes.fromhex("600420230615"), b"")
# DF03 EF05 of the same person: insured in 郑州市, no benefit claimed
EF05_WITH_60 = bytes.fromhex(
    "6103410100"  # 61 失业保险参保地所属行政区划代码 cn 03: 410100
    "600420230615"  # 60 最近一次办理失业登记日期 cn 04: 2023-06-15
    "9804FFFFFFFF"  # 98 最近一次失业保险金申领日期: none
    "6204FFFFFFFF"  # 62 失业保险金申领报到日期/信息更新日期: none
    "6303303834"  # 63 失业保险累计缴费年限 an 03: "084"
    "6403303834"  # 64 失业保险有效缴费年限 an 03: "084"
    "6503000000"  # 65 应领取失业保险金月数: empty
    "6603000000"  # 66 已领取失业保险金月数: empty
)
EF05_WITHOUT_60 = EF05_WITH_60.replace(bytes.fromhex("600420230615"), b"")


@pytest.mark.parametrize(
    ("cls", "body", "path"),
    [
        (EmploymentStatus, EF06_WITHOUT_60, DF02_EF06),
        (UnemploymentInsurance, EF05_WITHOUT_60, DF03_EF05),
    ],
)
def test_a_file_without_60_reads_as_absent_and_stays_without(
    cls: type[EmploymentStatus | UnemploymentInsurance], body: bytes, path: str
) -> None:
    """S2 §7: "两处应存在且仅存在其一" — a file without ``60`` is not the one that holds it."""
    content = cls.decode(body)
    assert content.unemployment_date is ABSENT
    assert not content.unemployment_date  # absent reads as false, like no date
    assert content.encode() == body


def test_with_60_the_file_holds_it_even_without_a_date() -> None:
    assert EmploymentStatus.decode(EF06_WITH_60).unemployment_date == datetime.date(2023, 6, 15)
    empty = bytes.fromhex("6103410100 6004FFFFFFFF")
    assert UnemploymentInsurance.decode(empty).unemployment_date is None
    assert UnemploymentInsurance.decode(empty).encode().startswith(empty)


def test_new_content_keeps_60_in_df02_ef06() -> None:
    """The item is defined in §8.3.2.4 (DF02 EF06); §8.4.1.2 (DF03 EF05) refers to it."""
    assert EmploymentStatus().unemployment_date is None
    assert UnemploymentInsurance().unemployment_date is ABSENT
    assert bytes.fromhex("6004FFFFFFFF") in EmploymentStatus().encode()
    assert UnemploymentInsurance().encode() == bytes.fromhex(
        "6103FFFFFF 9804FFFFFFFF 6204FFFFFFFF 6303000000 6403000000 6503000000 6603000000"
    )
    check_one_of(
        {DF02_EF06: EmploymentStatus().encode(), DF03_EF05: UnemploymentInsurance().encode()}
    )


def test_only_the_one_of_items_may_be_absent() -> None:
    with pytest.raises(RecordError, match="SSSE/DF01/EF05 20 hukou_type: every SSSE/DF01/EF05"):
        HouseholdRegistration(hukou_type=ABSENT).encode()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bodies", "message"),
    [
        ({DF02_EF06: EF06_WITH_60, DF03_EF05: EF05_WITH_60}, "SSSE/DF02/EF06 and SSSE/DF03"),
        ({DF02_EF06: EF06_WITHOUT_60, DF03_EF05: EF05_WITHOUT_60}, "neither SSSE/DF02/EF06 nor"),
    ],
    ids=["both", "neither"],
)
def test_a_card_keeps_60_in_exactly_one_file(bodies: dict[str, bytes], message: str) -> None:
    with pytest.raises(RecordError, match=f"最近一次办理失业登记日期 \\('60'\\) is in {message}"):
        check_one_of(bodies)


@pytest.mark.parametrize(
    "bodies",
    [
        {DF02_EF06: EF06_WITH_60, DF03_EF05: EF05_WITHOUT_60},
        {DF02_EF06: EF06_WITHOUT_60, DF03_EF05: EF05_WITH_60},
        {DF02_EF06: b"", DF03_EF05: EF05_WITHOUT_60},  # DF02 EF06 not written yet
        {DF03_EF05: EF05_WITH_60},
        {},  # the demo card writes neither file
        {DF02_EF06: bytes.fromhex("60"), DF03_EF05: EF05_WITH_60},  # not TLV: the card's answer
    ],
    ids=["in DF02", "in DF03", "DF02 empty", "DF02 missing", "neither written", "not TLV"],
)
def test_cards_that_keep_the_rule(bodies: dict[str, bytes]) -> None:
    check_one_of(bodies)


def _personalise(files: Mapping[str, FileContent]) -> dict[str, bytes]:
    profile = PROFILES[2]
    atr = card_atr(profile, DEMO_CARD_ID)
    keys = derive_card_keys(demo_keyset(profile.algorithm), DEMO_CARD_ID.region, atr)
    return user_card_content(
        profile,
        DEMO_CARDHOLDER,
        keys,
        atr=atr,
        card_id=DEMO_CARD_ID,
        card_number="A00000011",
        issue_date=DEMO_ISSUE_DATE,
        expiry=None,
        files=files,
    )


def test_personalisation_refuses_60_in_both_files() -> None:
    both = {
        DF02_EF06: EmploymentStatus(unemployment_date=datetime.date(2023, 6, 15)),
        DF03_EF05: UnemploymentInsurance(region="410100", unemployment_date=None),
    }
    with pytest.raises(PersonalisationError, match="SSSE/DF02/EF06 and SSSE/DF03/EF05"):
        _personalise(both)
    card = _personalise({**both, DF03_EF05: UnemploymentInsurance(region="410100")})
    assert card[DF02_EF06] == bytes.fromhex(
        "4C04FFFFFFFF 4B050000000000 4D03FFFFFF 600420230615 4F06000000000000 5003FFFFFF"
        "3A0700000000000000"
    )
    assert card[DF03_EF05].startswith(bytes.fromhex("6103410100 9804FFFFFFFF"))


def test_an_image_with_60_in_both_files_is_refused(tmp_path: Path) -> None:
    profile = PROFILES[2]
    content = demo_card_content(profile)
    check_content("user-card", content, card_atr(profile, DEMO_CARD_ID), 2)
    content |= {DF02_EF06: EF06_WITH_60, DF03_EF05: EF05_WITH_60}
    card = SimulatedCard.create("user-card", content, card_atr(profile, DEMO_CARD_ID), profile=2)
    save_image(card, tmp_path / "card.json")
    with pytest.raises(ImageError, match=r"\('60'\) is in SSSE/DF02/EF06 and SSSE/DF03/EF05"):
        load_image(tmp_path / "card.json")


# S2 附表二 二: items kept with another length, on 1.00 cards (Layout.V1)

EF05_1_00 = bytes.fromhex(
    "200132"  # 20 户口类别 an 01 (LB002-2000): "2"
    "2150D6D0C4B2CFD8" + "00" * 74  # 21 户口所在地地址 an 50: 中牟县 (6 GBK bytes), 74 × 00
)


def test_a_1_00_card_keeps_its_one_character_hukou_type() -> None:
    content = HouseholdRegistration.decode(EF05_1_00, Layout.V1)
    assert content == HouseholdRegistration(hukou_type="2", hukou_address="中牟县")
    assert content.encode(Layout.V1) == EF05_1_00
    with pytest.raises(RecordError, match="SSSE/DF01/EF05 20 hukou_type: an 02 but 1 bytes"):
        HouseholdRegistration.decode(EF05_1_00)  # a 2.0x card holds two characters


def test_a_two_character_hukou_type_cannot_go_on_a_1_00_card() -> None:
    """Table 16's codes are two characters; a 1.00 card's slot is one (S2 附表二)."""
    with pytest.raises(
        RecordError,
        match=r"SSSE/DF01/EF05 20 hukou_type: .* do not fit an 1 field: a 1\.0x card keeps "
        r"户口类别 as an 01, V2\.0's an 02 cannot be written there \(S2 附表二",
    ):
        HouseholdRegistration(hukou_type="21", hukou_address="中牟县").encode(Layout.V1)
    with pytest.raises(RecordError, match="an 01 but 2 bytes"):
        HouseholdRegistration.decode(bytes.fromhex("20023231"), Layout.V1)
    with pytest.raises(RecordError, match=r"hukou_type: an text cannot contain NUL, .*padding$"):
        HouseholdRegistration(hukou_type="\x00").encode(Layout.V1)  # bad anywhere


def test_a_1_00_card_keeps_a_ten_character_medical_account() -> None:
    """S2 附表二: "基本医疗保险个人账号" was an 0A (now 1D)."""
    body = bytes.fromhex("8B0A 34313031303030303031")  # 8B an 0A: "4101000001"
    content = MedicalInsurance.decode(body, Layout.V1)
    assert content.account_number == "4101000001"
    assert body in content.encode(Layout.V1)
    with pytest.raises(RecordError, match=r"基本医疗保险个人账号 as an 0A, V2\.0's an 1D"):
        MedicalInsurance(account_number="4101000000000001").encode(Layout.V1)


def test_appendix_c_writes_the_registration_number_as_cn_08_on_a_1_00_card() -> None:
    """Table 9 has ``55`` an 10; appendix C rewrites it in the cn 0A slot as cn 08."""
    with pytest.raises(RecordError, match=r"55 certificate: .*as cn 08"):
        RegistrationCertificate(certificate="41010520210003AB").encode(Layout.V1)
    old = bytes.fromhex("550A 41010520050000012345")  # 外来人员就业证编号 cn 0A (1.00)
    assert RegistrationCertificate.decode(old, Layout.V1).extra == ((0x55, old[2:]),)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (EmploymentStatus(employment_type="10010"), "4B employment_type: .*an 05 .*cn 04"),
        (EmploymentStatus(unemployment_type="102000"), "4F unemployment_type: .*an 06 .*cn 04"),
    ],
)
def test_appendix_c_cannot_pad_a_longer_value_into_its_1_00_slot(
    content: EmploymentStatus, message: str
) -> None:
    """Appendix C E-pads 4B (an 05) and 4F (an 06) into 1.00 slots of cn 04: they do not fit."""
    with pytest.raises(RecordError, match=message):
        content.encode(Layout.V1)
