"""The simulated 1.00 card (LB002-2000): its tree, its personalisation, and a hospital
terminal reading, writing and debiting it (S2 tables 2–9, appendix C, 附表一/二; S3 §1, §10).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from issuance_support import person, write_csv
from terminal_support import CARD_ID, CARD_INFO
from test_terminal_1x_items import body, national

from sbkcard.apdu import builders as b
from sbkcard.applet_model.data_items import LEGACY_ITEMS, RESIZED_ITEMS
from sbkcard.applet_model.records import (
    Cardholder,
    HouseholdRegistration,
    IssuerData,
    MedicalInsurance,
    OfflineSettlement,
    RecordError,
)
from sbkcard.applet_model.ssse import Layout, dir_records, national_tree
from sbkcard.applet_model.tree import EF, SSSE_AID
from sbkcard.applet_model.user_card import FIRST_GENERATION, PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_EXPIRY,
    DEMO_FILES_1X,
    DEMO_ISSUE_DATE,
    DEMO_MEDICAL,
    PersonalisationError,
    demo_card_content,
    user_card_content,
)
from sbkcard.cli import main
from sbkcard.keys import Algorithm
from sbkcard.simulator import load_image
from sbkcard.simulator.demo import demo_card
from sbkcard.terminal.national.codes import Code
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.hsm_host import CardFacts, HsmHost

TREE = national_tree(Layout.V1, Algorithm.DES)
V2 = national_tree(Layout.V2, Algorithm.DES)

NEW_FILES = {
    # S2 tables 3–8, the files marked ※ (附表一 "三、新规范文件扩充")
    "SSSE/EF08",
    "SSSE/DF01/EF0A",
    *(f"SSSE/DF01/EF{fid:02X}" for fid in range(0x16, 0x1B)),
    "SSSE/DF02/EF09",
    "SSSE/DF02/EF15",
    "SSSE/DF02/EF16",
    *(f"SSSE/DF03/EF{fid:02X}" for fid in range(0x15, 0x1A)),
    "SSSE/DF04/EF06",
    "SSSE/DF04/EF15",
    "SSSE/DF07/EF05",
    "SSSE/DF07/EF06",
    "SSSE/DF07/EF07",
}
REUSED_FILES = {"SSSE/DF01/EF0A", "SSSE/DF02/EF09", "SSSE/DF04/EF06"}
"""※ files whose identifiers LB002-2000 gave the deleted 工资信息文件, 农村流动劳动力
就业证信息文件 and 医疗保险账户信息文件: appendix C reuses their tags."""


# -- the tree ------------------------------------------------------------------------------


def test_the_new_files_and_the_new_application_are_absent() -> None:
    gone = set(V2.paths) - set(TREE.paths)
    assert gone == (NEW_FILES - REUSED_FILES) | {"SSSE/DF07"}  # DF07 is △ (table 2)
    assert {a.path for a in LEGACY_ITEMS} == REUSED_FILES | {
        "SSSE/DF01/EF09",
        "SSSE/DF02/EF06",
        "SSSE/DF03/EF05",
        "SSSE/DF03/EF07",
        "SSSE/DF04/EF05",
    }
    assert "SSSE/DF04/PURSE" in TREE.paths and "SSSE/DF04/EF08" in TREE.paths  # not ※


def test_a_file_keeps_no_new_item_and_the_1_00_lengths() -> None:
    for path, ef in TREE.files().items():
        if not ef.items:
            continue
        full = V2.ef(path)
        reused = {a.tag: a.old_length for a in LEGACY_ITEMS if a.path == path}
        resized = {r.tag: r.old_length for r in RESIZED_ITEMS if r.path == path}
        kept = [it for it in full.items if not it.added or it.tag in reused]
        assert ef.items == tuple(kept), path
        if ef.structure.records and not ef.structure.fixed:
            lengths = [reused.get(it.tag, resized.get(it.tag, it.length)) for it in kept]
            assert ef.size == sum(
                (2 + n) * it.repeat for it, n in zip(kept, lengths, strict=True)
            ), path
        else:
            assert (ef.size, ef.record_length, ef.records) == (
                full.size,
                full.record_length,
                full.records,
            ), path
    ef06 = TREE.ef("SSSE/EF06")
    assert 0x4E not in {it.tag for it in ef06.items}  # no 姓名扩展 (S3 §10.2)
    assert ef06.size == 0x5B - (2 + 0x14)  # all of a V2.0 EF06 (0x5B) but 4E an 14
    assert TREE.ef("SSSE/DF04/EF06").size == 3 * (2 + 4)  # 90 92 93: cn 04 (appendix C)
    # DF04 EF05: 81 84 87 in an 46 slots, 8B an 0A (附表二), no 7D–7F 8D 8E (★)
    assert TREE.ef("SSSE/DF04/EF05").size == 3 * 0x48 + 3 + 6 + 0x0C + 0x11 + 3 * 0x0B + 3
    assert TREE.ef("SSSE/DF02/EF09").size == (2 + 0x0A) + (2 + 0x46) + 2 * (2 + 4)


def test_the_directory_names_four_applications_and_the_fci_no_algorithm() -> None:
    dir_ef = TREE.ssse.efs[0]
    assert isinstance(dir_ef, EF) and dir_ef.sfi == 0x1E
    assert [df.name for df in TREE.ssse.dfs] == ["DF01", "DF02", "DF03", "DF04"]
    card = demo_card(1)
    assert body(card, "SSSE/SFI1E") == dir_records(TREE.ssse.dfs)
    assert len(body(card, "SSSE/SFI1E")) == dir_ef.size
    card.power_on()
    available = card.transmit(bytes(b.select_ssse()))
    assert available[0] == 0x61  # T=0: the FCI waits for GET RESPONSE
    fci = card.transmit(bytes(b.get_response(available[1])))
    assert fci[-2:] == b"\x90\x00" and SSSE_AID in fci
    assert b"\x9f\x0c" not in fci  # no algorithm: S3 §10.1 chooses it by region
    assert TREE.version == "1.0"


# -- personalisation (by APDUs: test_card_personalise) -------------------------------------


def test_the_demo_1_00_card_holds_its_files_in_1_00_records() -> None:
    content = demo_card_content(FIRST_GENERATION)
    assert IssuerData.decode(content["SSSE/EF05"]).version == "1.00"
    assert content["SSSE/DF04/EF06"] == bytes.fromhex("9004 31EEEEEE 9204 00000000 9304 3030EEEE")
    for path, typed in DEMO_FILES_1X.items():
        assert type(typed).decode(content[path], Layout.V1) == typed, path
    assert not any(key.startswith(("key:SSSE/DF07", "fs:SSSE/DF07")) for key in content)


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"SSSE/DF04/EF05": DEMO_MEDICAL}, ("8B", "an 0A", "附表二")),
        ({"SSSE/DF01/EF05": HouseholdRegistration("10")}, ("20", "an 01")),
        ({"SSSE/DF03/EF16": HouseholdRegistration("1")}, ("SSSE/DF03/EF16", "generation 1")),
    ],
)
def test_what_a_1_00_card_cannot_hold_is_refused_at_personalisation(
    files: dict[str, HouseholdRegistration | MedicalInsurance], words: tuple[str, ...]
) -> None:
    with pytest.raises((PersonalisationError, RecordError)) as caught:
        user_card_content(
            FIRST_GENERATION,
            DEMO_CARDHOLDER,
            {"MKMF": bytes(16), "MKSSSE": bytes(16)},
            card_id=DEMO_CARD_ID,
            card_number=DEMO_CARD_NUMBER,
            issue_date=DEMO_ISSUE_DATE,
            expiry=DEMO_EXPIRY,
            files=files,
        )
    assert all(word in str(caught.value) for word in words), caught.value


def test_a_name_longer_than_30_bytes_has_no_room_on_a_1_00_card() -> None:
    """2.0 cards continue a long name in 4E; 1.0 cards have only 09 (S3 §10.2)."""
    long = dataclasses.replace(DEMO_CARDHOLDER, name="阿卜杜热合曼·买买提艾力麦合木提")
    with pytest.raises(RecordError, match="30 GBK bytes"):
        long.encode(Layout.V1)
    assert Cardholder.decode(long.encode(Layout.V2)).name == long.name


# -- a hospital terminal -------------------------------------------------------------------


def test_read_basic_info_gives_version_1_00_and_the_name_without_extension() -> None:
    code, out = national(demo_card(1)).iReadCardBas(1)
    assert code == 0
    region, ssn, number, card_id, name, history, version, issued, expiry = out.split("|")[:9]
    assert (region, ssn, number, card_id) == ("410100", DEMO_CARDHOLDER.ssn, "A00000011", CARD_ID)
    assert (name, version, issued, expiry) == ("张三", "1.00", "20240101", "20340101")
    assert bytes.fromhex(history)[2:5] == b"SB0"  # the 1st generation's COS (ATR T3–T5)


def test_items_and_files_a_1_00_card_lacks() -> None:
    """A ★ item in a file the card has reads empty, as any absent record (S3 §2); a ※
    file is not found (6A82)."""
    api = national(demo_card(1))
    assert api.iReadCard(1, 1, CARD_INFO, "SSSEEF06|09|4E|$") == (0, "SSSEEF06|张三||$")
    assert api.iReadCard(1, 1, CARD_INFO, "DF01EF05|0E|$") == (0, "DF01EF05||$")
    for address in ("DF03EF15|7A|$", "DF07EF05|F0|$", "DF04EF15|$"):
        code, message = api.iReadCard(1, 1, CARD_INFO, address)
        assert code == -27266 and "6A82" in message, (address, message)


def test_reused_tags_personalised_with_new_values_read_them() -> None:
    """81 84 87 E-padded into the 1.00 hospital-name slots (appendix C); the old items
    are the business of ``test_terminal_1x_items``."""
    card = demo_card(1)
    assert national(card).iReadCard(1, 1, CARD_INFO, "DF04EF05|81|84|87|8B|$") == (
        0,
        "DF04EF05|31001100|410100|41010219900307001|4101000001|$",
    )
    assert body(card, "SSSE/DF04/EF05")[:10] == bytes.fromhex("8146 3331303031313030")
    assert body(card, "SSSE/DF04/EF05")[10:72] == b"\xee" * 62


def test_writing_a_reused_tag_pads_it_and_a_resized_item_keeps_its_length() -> None:
    card = demo_card(1)
    api = national(card)
    address = "DF04EF06|90|92|93|$"
    assert api.iWriteCard(1, CARD_INFO, address, "DF04EF06|1|1250|3|$") == (0, "")
    written = bytes.fromhex("9004 31EEEEEE 9204 1250FFFF 9304 3300EEEE")  # an 02 "3", E-padded
    assert body(card, "SSSE/DF04/EF06") == written
    assert api.iReadCard(1, 1, CARD_INFO, address) == (0, "DF04EF06|1|1250|3|$")
    before = body(card, "SSSE/DF01/EF05")
    code, message = api.iWriteCard(1, CARD_INFO, "DF01EF05|20|$", "DF01EF05|10|$")
    assert code == Code.BAD_PARAMETER and "an 01" in message and "附表二" in message
    assert body(card, "SSSE/DF01/EF05") == before
    code, message = api.iWriteCard(1, CARD_INFO, "DF04EF05|8B|$", "DF04EF05|41010000001|$")
    assert code == Code.BAD_PARAMETER and "an 0A" in message
    assert OfflineSettlement.decode(body(card, "SSSE/DF04/EF06"), Layout.V1) == (
        OfflineSettlement("1", "1250", "3")
    )


def test_a_1_00_card_pays_from_its_purse() -> None:
    """The DF04 purse and EF08 are not ※ (S2 table 7): the debit of S3 §7 works, DES."""
    api = national(demo_card(1))
    code, out = api.iDoDebit(1, CARD_INFO, "12.50|30.00|20240601103000|")
    assert code == 0, out
    alg, address, amounts, kind, term_no, seq, when, tac = out.split("|")[:-1]
    assert (alg, address, kind, seq) == ("01", "00B5", "2", "00000001")  # DES (S3 §10.1)
    assert (term_no, when) == ("410100000001", "20240601103000")
    assert amounts == f"{1250:08X}{3000:08X}" and re.fullmatch(r"[0-9A-F]{8}", tac)
    history = bytes.fromhex(api.iReadCardBas(1)[1].split("|")[5])
    assert HsmHost(SoftwareKeyService()).check_tac(out, CardFacts(CARD_ID, history))
    assert api.iReadDebitRecord(1) == (0, "0^410100000001^20240601103000^12.50^30.00^|")


def test_profile_1_is_the_first_generation() -> None:
    assert PROFILES[1] is FIRST_GENERATION
    assert FIRST_GENERATION.layout is Layout.V1 and FIRST_GENERATION.tree is TREE
    content = demo_card_content(FIRST_GENERATION)
    assert content["SSSE/DF04/EF05"] == DEMO_FILES_1X["SSSE/DF04/EF05"].encode(Layout.V1)


# -- the command line ------------------------------------------------------------------------


def test_card_new_profile_1_makes_a_1_00_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "card.json"
    assert main(["card", "new", "--profile", "1", "--out", str(image)]) == 0
    assert "generation 1 (DES/3DES, version 1.00)" in capsys.readouterr().out
    card = load_image(image)
    assert card.profile == 1
    assert national(card).iReadCardBas(1)[1].split("|")[6] == "1.00"
    assert main(["card", "show", str(image)]) == 0
    shown = capsys.readouterr().out
    assert "V1" in shown and "DF07" not in shown and "4101000001" in shown
    # DF04 EF05 on a 1.00 card: 81 (a reused tag, its new value E-padded) is shown, the
    # ★ items LB002-2000 has no record for (7D 工伤协议医疗机构代码 1 …) are not
    assert "│ 81 " in shown and "31001100" in shown
    assert "工伤协议医疗机构代码 1" not in shown and "生育定点医疗机构代码 1" not in shown


def test_issuing_profile_1_cards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issuing line personalises by APDUs (Part 10 §5) a 1.00 card per applicant."""
    applicants = write_csv(tmp_path / "applicants.csv", [person(1)])
    out = tmp_path / "out"
    argv = ["issue", str(applicants), "--keys", "demo", "--out", str(out), "--profile", "1"]
    argv += ["--issue-date", "20240101"]
    assert main(argv) == 0
    assert "DES roots" in capsys.readouterr().out
    (path,) = out.glob("H*.json")
    card = load_image(path)
    assert card.profile == 1
    number = path.stem
    code, info = national(card).iReadCardBas(1)
    assert code == 0, info
    assert info.split("|")[2] == number and info.split("|")[6] == "1.00"
