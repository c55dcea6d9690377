"""The DF04 medical purse: load, purchase, balance, proof, starting day (Part 5 §7; Part 7 §11–15).

The host side (the load host and the PSAM) is computed here with :mod:`sbkcard.keys`
alone, following Part 7's lists of MAC inputs, so the card is checked against them.
"""

from __future__ import annotations

import datetime

import pytest
from test_card_driver import Driver, fixture_driver  # noqa: F401

from sbkcard.applet_model.records import TransactionLog, TransactionRecord
from sbkcard.applet_model.user_card.purse import PurseData, settle_year
from sbkcard.keys import mac, session_key, tac

TERMINAL = bytes.fromhex("410100000001")
LOAD_TIME = bytes.fromhex("20240301093000")
BUY_TIME = bytes.fromhex("20240305101500")


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def load(
    d: Driver, amount: int, *, time: bytes = LOAD_TIME, tamper: bool = False
) -> tuple[int, bytes]:
    """An account load as the host does it; returns (SW of CREDIT FOR LOAD, TAC)."""
    data = b"\x01" + _u32(amount) + TERMINAL
    reply = d.ok(b"\xb0\x28\x00\x01\x0b" + data + b"\x10")
    balance, seq, version, alg = reply[0:4], reply[4:6], reply[6], reply[7]
    random, mac1 = reply[8:12], reply[12:16]
    assert (version, alg) == (1, d.algorithm.value)
    seslk = session_key(d.key("DLK"), random + seq + b"\x80\x00", d.algorithm)
    assert mac1 == mac(seslk, balance + _u32(amount) + b"1" + TERMINAL, d.algorithm)
    mac2 = mac(seslk, _u32(amount) + b"1" + TERMINAL + time, d.algorithm)
    if tamper:
        mac2 = bytes(b ^ 0xFF for b in mac2)
    tac_value, sw = d.send(b"\xb0\x2a\x00\x00\x0b" + time + mac2 + b"\x04")
    if sw == 0x9000:
        new_balance = _u32(int.from_bytes(balance, "big") + amount)
        data = new_balance + seq + _u32(amount) + b"1" + TERMINAL + time
        assert tac_value == tac(d.key("DTK"), data, d.algorithm)
    return sw, tac_value


def initialize_purchase(
    d: Driver, amounts: tuple[int, int, int], index: int = 1
) -> tuple[bytes, int]:
    data = bytes((index,)) + b"".join(_u32(a) for a in amounts) + TERMINAL
    return d.send(b"\xb0\x28\x01\x01\x13" + data + b"\x16")


def purchase(
    d: Driver, amounts: tuple[int, int, int], *, time: bytes = BUY_TIME, terminal_seq: int = 7
) -> tuple[int, bytes]:
    """A medical purchase as the PSAM does it; returns (SW of DEBIT, TAC ‖ MAC2)."""
    reply, sw = initialize_purchase(d, amounts)
    assert sw == 0x9000, hex(sw)
    seq, random = reply[14:16], reply[18:22]
    assert reply[16:18] == bytes((1, d.algorithm.value))
    tseq = terminal_seq.to_bytes(4, "big")
    sespk = session_key(d.key("DPK"), random + seq + tseq[2:], d.algorithm)
    money = b"".join(_u32(a) for a in amounts)
    mac1 = mac(sespk, money + b"2" + TERMINAL + time, d.algorithm)
    out, sw = d.send(b"\xb0\x2c\x01\x00\x0f" + tseq + time + mac1 + b"\x08")
    if sw == 0x9000:
        assert out[4:] == mac(sespk, money, d.algorithm)
        tac_data = money + b"2" + TERMINAL + tseq + time
        assert out[:4] == tac(d.key("DTK"), tac_data, d.algorithm)
    return sw, out


def balance(d: Driver) -> int:
    return int.from_bytes(d.ok("B026000104"), "big")


@pytest.fixture
def purse(driver: Driver) -> Driver:
    assert driver.select_df("DF04") == 0x9000
    assert driver.verify() == 0x9000
    return driver


def test_load_then_purchase_moves_money_and_writes_the_log(purse: Driver) -> None:
    assert balance(purse) == 0
    assert load(purse, 10_000)[0] == 0x9000
    assert balance(purse) == 10_000
    sw, out = purchase(purse, (2_500, 300, 1_200))
    assert sw == 0x9000
    assert balance(purse) == 7_500
    assert purse.ok("B026000206") == _u32(300) + b"\x20\x24"
    assert purse.ok("B026000306") == _u32(1_200) + b"\x20\x24"
    log = TransactionLog.decode(purse.ok("00B2014538"))
    assert log.records == (
        TransactionRecord(
            0, "2", "410100000001", datetime.datetime(2024, 3, 5, 10, 15), 2_500, 300, 1_200
        ),
        TransactionRecord(
            0, "1", "410100000001", datetime.datetime(2024, 3, 1, 9, 30), 10_000, 0, 0
        ),
    )
    proof = purse.ok("B02E003202000008")
    assert proof == out[4:] + out[:4]  # MAC2 ‖ TAC
    assert purse.sw("B02E003202000108") == 0x9406
    assert purse.sw("B02E003102000008") == 0x9406  # the last transaction was a purchase


def test_the_log_keeps_the_newest_30_records(purse: Driver) -> None:
    assert load(purse, 100_000)[0] == 0x9000
    for n in range(35):
        assert purchase(purse, (1, 0, 0), terminal_seq=n)[0] == 0x9000
    records = [purse.read(n, 0x44)[0] for n in range(1, 31)]
    assert [int.from_bytes(r[:2], "big") for r in records[:3]] == [34, 33, 32]
    assert purse.read(31, 0x44)[1] == 0x6A83


def test_purse_command_states_of_table_49(purse: Driver) -> None:
    assert purse.sw("B02C01000F" + "00" * 15) == 0x6901  # DEBIT from idle
    assert purse.sw("B02A00000B" + "00" * 11) == 0x6901  # CREDIT from idle
    assert load(purse, 500)[0] == 0x9000
    assert initialize_purchase(purse, (100, 0, 0))[1] == 0x9000
    assert purse.sw("B02A00000B" + "00" * 11) == 0x6901  # CREDIT in the purchase state
    assert purse.sw("B02C01000F" + "00" * 15) == 0x6901  # …and the purse went idle
    initialize_purchase(purse, (100, 0, 0))
    assert purse.ok("B026000104") == _u32(500)  # GET BALANCE keeps the state
    assert purchase(purse, (100, 0, 0))[0] == 0x9000
    initialize_purchase(purse, (100, 0, 0))
    purse.read(1, 0x2C)  # any other command: INITIALIZE is good for the next one only
    assert purse.sw("B02C01000F" + "00" * 15) == 0x6901


def test_purse_errors(purse: Driver) -> None:
    assert load(purse, 1_000)[0] == 0x9000
    assert initialize_purchase(purse, (1_001, 0, 0))[1] == 0x9401
    assert initialize_purchase(purse, (1, 0, 0), index=2)[1] == 0x9403
    assert purse.sw("B028010212" + "00" * 18) == 0x6A86
    assert purse.sw("B028010112" + "00" * 18) == 0x6700
    assert load(purse, 1, tamper=True)[0] == 0x9302
    assert balance(purse) == 1_000
    assert purse.sw("B0260004 04") == 0x6A86
    assert purse.sw("B026000106") == 0x6700
    assert purse.sw("B02E003203000008") == 0x6700


def test_wrong_mac1_is_9302_and_changes_nothing(purse: Driver) -> None:
    assert load(purse, 1_000)[0] == 0x9000
    assert initialize_purchase(purse, (100, 0, 0))[1] == 0x9000
    assert purse.sw("B02C01000F" + "00000001" + BUY_TIME.hex() + "00000000") == 0x9302
    assert balance(purse) == 1_000
    assert purse.sw("B02C01000F" + "00000001" + "2024133101" + "0000" + "00000000") == 0x6901


def test_purse_needs_the_pin(driver: Driver) -> None:
    assert driver.select_df("DF04") == 0x9000
    assert driver.sw("B026000104") == 0x6982
    assert initialize_purchase(driver, (1, 0, 0))[1] == 0x6982
    driver.select_ssse()
    assert driver.sw("B026000104") == 0x6985  # no purse in the SSSE


def test_starting_day(purse: Driver) -> None:
    assert purse.ok("B056010002") == b"\x01\x01"
    assert purse.sw("B056000002 0701") == 0x6982
    assert purse.authenticate("DSK") == 0x9000
    assert purse.sw("B056000002 0701") == 0x9000
    assert purse.sw("B056000002 1301") == 0x6A80
    assert purse.ok("B056010002") == b"\x07\x01"
    assert purse.sw("B056020000") == 0x6A86


@pytest.mark.parametrize(
    ("year", "start", "when", "expected"),
    [
        ("2024", "0101", datetime.date(2024, 12, 31), ("2024", 150, 250)),
        ("2024", "0101", datetime.date(2025, 1, 1), ("2025", 50, 50)),
        ("2024", "0701", datetime.date(2025, 6, 30), ("2024", 150, 250)),
        ("2024", "0701", datetime.date(2025, 7, 1), ("2025", 50, 50)),
        ("2024", "0701", datetime.date(2026, 3, 1), ("2025", 50, 50)),
        ("0000", "0101", datetime.date(2024, 5, 6), ("2024", 50, 50)),
    ],
)
def test_settlement_year_rule_of_part_7_12_6(
    year: str, start: str, when: datetime.date, expected: tuple[str, int, int]
) -> None:
    before = PurseData(balance=1_000, spip=100, spfp=200, year=year, start=start)
    after = settle_year(before, when, 50, 50)
    assert (after.year, after.spip, after.spfp) == expected
    assert PurseData.from_bytes(after.to_bytes()) == after


def test_debit_with_a_transaction_time_that_is_no_date_is_6a80(purse: Driver) -> None:
    assert load(purse, 1_000)[0] == 0x9000
    assert initialize_purchase(purse, (100, 0, 0))[1] == 0x9000
    assert purse.sw("B02C01000F" + "00000001" + "20241332250000" + "00000000") == 0x6A80
    assert balance(purse) == 1_000


@pytest.mark.parametrize("spent", [(0, 0xFFFFFFFF, 0), (0, 0, 0xFFFFFFFF)], ids=["SPIP", "SPFP"])
def test_a_yearly_total_past_4_bytes_is_6985_and_changes_nothing(
    purse: Driver, spent: tuple[int, int, int]
) -> None:
    """SPIP and SPFP are ``b 4`` (S2 §7): a settlement that would overflow one is refused
    with "使用条件不满足" of Part 5 table 57, the purse and its log untouched."""
    assert load(purse, 10)[0] == 0x9000
    assert purchase(purse, spent)[0] == 0x9000
    before = {k: v for k, v in purse.storage.data.items() if k.startswith("SSSE/DF04/")}
    assert purchase(purse, (1, 1, 1))[0] == 0x6985
    after = {k: v for k, v in purse.storage.data.items() if k.startswith("SSSE/DF04/")}
    assert after == before
    assert balance(purse) == 10
    assert purchase(purse, (1, 0, 0))[0] == 0x9000  # other totals still settle
