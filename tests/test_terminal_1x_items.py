"""Reading and writing by file address on a 1.00 card (S3 §2–§3, §10.2; S2 appendix C, 附表二).

The card is the 1.00 demo card with LB002-2000 records in the files under test; every
expected file body is written out by hand from S2 appendix C.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from terminal_support import CARD_INFO, psam, terminal, user_card

from sbkcard.applet_model.records import OfflineSettlement
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.traces.decode import decode_trace, decoded_text, read_trace
from sbkcard.applet_model.user_card import FIRST_GENERATION
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr, demo_card_content
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.national.codes import Code
from sbkcard.terminal.national.interface import NationalInterface

# DF04 EF06 on a 1.00 card (LB002-2000): 90 基本医疗保险个人账户余额, 92 年度个人自付累计金额,
# 93 年度统筹基金支付累计金额, each cn 04 (S2 appendix C's old definitions)
OFFLINE_1_00 = bytes.fromhex("9004 00001234 9204 00000567 9304 00000089")
# DF01 EF05: 20 户口类别 an 01 "1" (附表二: an 02 from V2.0 on)
HOUSEHOLD_1_00 = bytes.fromhex("2001 31")
# DF02 EF09: 55 外来人员就业证编号 cn 0A, 56 就业证签发机关 an 46 (GBK 郑州市人社局)
CERTIFICATE_1_00 = bytes.fromhex(
    "550A 41010520050000012345" + "5646 D6A3D6DDCAD0C8CBC9E7BED6" + "00" * 58
)


def one_dot_zero_card(files: Mapping[str, bytes]) -> SimulatedCard:
    """The 1.00 demo card (its 1.0x tree), ``files`` holding LB002-2000 records."""
    content = demo_card_content(FIRST_GENERATION)
    for path, body in files.items():
        assert len(body) <= FIRST_GENERATION.tree.ef(path).capacity, path
        content[path] = body
    atr = card_atr(FIRST_GENERATION, DEMO_CARD_ID)
    return SimulatedCard.create("user-card", content, atr, profile=1)


def national(card: SimulatedCard) -> NationalInterface:
    return NationalInterface(terminal(card, psam_card=psam(2)))


def body(card: SimulatedCard, path: str) -> bytes:
    stored = card.nvm.read(path)
    assert stored is not None
    return stored


def test_a_reused_tag_holding_its_1_00_item_reads_empty() -> None:
    """90 holds 个人账户余额, not 准许脱网医保结算标识: no new value; 92 follows 90
    (S2 appendix C)."""
    card = one_dot_zero_card({"SSSE/DF04/EF06": OFFLINE_1_00})
    api = national(card)
    assert api.iReadCard(1, 1, CARD_INFO, "DF04EF06|90|92|93|$") == (0, "DF04EF06||||$")
    assert api.iReadCard(1, 1, CARD_INFO, "DF04EF06|92|$") == (0, "DF04EF06||$")
    assert body(card, "SSSE/DF04/EF06") == OFFLINE_1_00


def test_a_reused_tag_holding_a_new_value_reads_it() -> None:
    """DF04 EF05 on a 1.00 card: 81 险种类型 an 08 E-padded in the an 46 slot of 定点医疗机构
    名称 1, 84 still the old name; 8B 个人账号 an 0A (附表二). Per item: 3 × 72 bytes."""
    medical = bytes.fromhex(
        "8146 3331303031313030"  # 81: "31001100" then E to the slot's end
        + "EE" * 62
        + "8446 D6D0D2BDD4BA"  # 84: 中医院, a 1.00 hospital name
        + "00" * 64
        + "8B0A 34313031303030303031"  # 8B: "4101000001"
    )
    card = one_dot_zero_card({"SSSE/DF04/EF05": medical})
    out = national(card).iReadCard(1, 1, CARD_INFO, "DF04EF05|81|84|8B|$")
    assert out == (0, "DF04EF05|31001100||4101000001|$")


def test_writing_reused_tags_pads_them_into_their_1_00_slots() -> None:
    card = one_dot_zero_card({"SSSE/DF04/EF06": OFFLINE_1_00})
    api = national(card)
    address = "DF04EF06|90|92|93|$"
    assert api.iWriteCard(1, CARD_INFO, address, "DF04EF06|1|300|12|$") == (0, "")
    assert body(card, "SSSE/DF04/EF06") == bytes.fromhex(
        "9004 31EEEEEE"  # 90 准许脱网医保结算标识 an 01 "1", right-padded with E
        "9204 300FFFFF"  # 92 脱网医保结算累计金额 cn 04, kept as is: 90 tells its meaning
        "9304 3132EEEE"  # 93 脱网医保结算累计次数 an 02 "12", right-padded with E
    )
    assert api.iReadCard(1, 1, CARD_INFO, address) == (0, "DF04EF06|1|300|12|$")
    assert api.iReadCard(1, 1, CARD_INFO, "DF04EF06|92|$") == (0, "DF04EF06|300|$")


def test_a_follower_is_written_only_beside_a_new_leader() -> None:
    """92 is new only when 90 is (S2 appendix C); DF04 EF06 is read with the PIN, which
    iWriteCard does not ask for, so 90 must be written with it."""
    card = one_dot_zero_card({"SSSE/DF04/EF06": OFFLINE_1_00})
    api = national(card)
    code, message = api.iWriteCard(1, CARD_INFO, "DF04EF06|92|$", "DF04EF06|300|$")
    assert code == Code.BAD_PARAMETER
    assert "92 脱网医保结算累计金额" in message and "write 90 with it" in message
    assert body(card, "SSSE/DF04/EF06") == OFFLINE_1_00
    address = "DF04EF06|92|90|$"
    assert api.iWriteCard(1, CARD_INFO, address, "DF04EF06|300|0|$") == (0, "")
    assert body(card, "SSSE/DF04/EF06") == bytes.fromhex(
        "9004 30EEEEEE 9204 300FFFFF 9304 00000089"  # 93 keeps its 1.00 value
    )


def test_the_registration_number_goes_in_as_cn_08_and_leads_56() -> None:
    card = one_dot_zero_card({"SSSE/DF02/EF09": CERTIFICATE_1_00})
    api = national(card)
    assert api.iReadCard(1, 1, CARD_INFO, "DF02EF09|55|56|$") == (0, "DF02EF09|||$")
    number = "DF02EF09|55|$"
    assert api.iWriteCard(1, CARD_INFO, number, "DF02EF09|41010520210003|$") == (0, "")
    assert api.iWriteCard(1, CARD_INFO, "DF02EF09|56|$", "DF02EF09|郑州市|$") == (0, "")
    assert body(card, "SSSE/DF02/EF09") == bytes.fromhex(
        "550A 41010520210003FF EEEE"  # appendix C: cn 08, then E-padded to the cn 0A slot
        "5646 D6A3D6DDCAD0" + "00" * 64  # 56 发证机关 an 46 in the same slot (定义变更)
    )
    assert api.iReadCard(1, 1, CARD_INFO, "DF02EF09|55|56|$") == (
        0,
        "DF02EF09|41010520210003|郑州市|$",
    )
    code, message = api.iWriteCard(1, CARD_INFO, number, "DF02EF09|41010520210003AB|$")
    assert code == Code.BAD_PARAMETER and "cn 08" in message


def test_a_resized_item_keeps_its_1_00_length() -> None:
    card = one_dot_zero_card({"SSSE/DF01/EF05": HOUSEHOLD_1_00})
    api = national(card)
    assert api.iReadCard(1, 1, CARD_INFO, "DF01EF05|20|$") == (0, "DF01EF05|1|$")
    code, message = api.iWriteCard(1, CARD_INFO, "DF01EF05|20|$", "DF01EF05|21|$")
    assert code == Code.BAD_PARAMETER
    assert "户口类别" in message and "an 01" in message and "附表二" in message
    assert body(card, "SSSE/DF01/EF05") == HOUSEHOLD_1_00
    assert api.iWriteCard(1, CARD_INFO, "DF01EF05|20|$", "DF01EF05|2|$") == (0, "")
    assert body(card, "SSSE/DF01/EF05") == bytes.fromhex("2001 32")


@pytest.mark.parametrize(
    ("address", "data", "words"),
    [
        ("DF02EF06|4B|$", "DF02EF06|10010|$", ("4B", "an 05", "cn 04")),  # no room for EE
        ("DF01EF05|0E|$", "DF01EF05|410100|$", ("0E", "★")),  # no such record on a 1.00 card
    ],
)
def test_what_a_1_00_card_cannot_hold_is_bad_input(
    address: str, data: str, words: tuple[str, ...]
) -> None:
    card = one_dot_zero_card({"SSSE/DF02/EF06": b"", "SSSE/DF01/EF05": HOUSEHOLD_1_00})
    code, message = national(card).iWriteCard(1, CARD_INFO, address, data)
    assert code == Code.BAD_PARAMETER
    assert all(word in message for word in words), message


def test_a_2_00_card_takes_the_v2_lengths() -> None:
    api = national(user_card(2))
    assert api.iWriteCard(1, CARD_INFO, "DF01EF05|20|$", "DF01EF05|21|$") == (0, "")
    assert api.iReadCard(1, 1, CARD_INFO, "DF01EF05|20|$") == (0, "DF01EF05|21|$")


@settings(max_examples=15, deadline=None)
@given(
    allowed=st.sampled_from(["", "0", "1"]),
    total=st.from_regex(r"[0-9]{0,8}", fullmatch=True),
    count=st.from_regex(r"[0-9]{0,2}", fullmatch=True),
)
def test_the_terminal_and_the_records_codec_agree(allowed: str, total: str, count: str) -> None:
    """What iWriteCard leaves in the file, the 1.00 records codec reads back, value for value."""
    card = one_dot_zero_card({"SSSE/DF04/EF06": OFFLINE_1_00})
    api = national(card)
    values = f"DF04EF06|{allowed}|{total}|{count}|$"
    assert api.iWriteCard(1, CARD_INFO, "DF04EF06|90|92|93|$", values) == (0, "")
    content = OfflineSettlement.decode(body(card, "SSSE/DF04/EF06"), Layout.V1)
    assert content == OfflineSettlement(allowed, total, count)
    assert api.iReadCard(1, 1, CARD_INFO, "DF04EF06|90|92|93|$") == (0, values)


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (  # 90 renewed: 92 is 脱网医保结算累计金额 (S2 appendix C: "'90'更新后要更新'92'")
            "9004 31EEEEEE 9204 00000300 9304 3132EEEE",
            ["1", "00000300", "12"],
        ),
        (  # 90 the 1.00 balance: 92 is the 1.00 年度个人自付累计金额
            OFFLINE_1_00.hex(),
            [
                "00001234 (1.0x item 基本医疗保险个人账户余额)",
                "00000567 (1.0x item 年度个人自付累计金额)",
                "00000089 (1.0x item 年度统筹基金支付累计金额)",
            ],
        ),
    ],
)
def test_the_trace_reads_a_follower_by_its_leader_in_the_same_answer(
    body: str, shown: list[str]
) -> None:
    card = one_dot_zero_card({"SSSE/DF04/EF06": bytes.fromhex(body)})
    api = national(card)
    assert api.iReadCard(1, 1, CARD_INFO, "DF04EF06|90|92|93|$")[0] == 0
    decoded = decoded_text(decode_trace(read_trace(api.terminal.trace.text())))
    rows = [line.split(": ", 1) for line in decoded.splitlines()]
    values = [row[1] for row in rows if row[0].lstrip().startswith(("90 ", "92 ", "93 "))]
    assert values == shown
