"""The PSAM and the user card's medical purse agree on SESPK, MAC1, MAC2 and the TAC (Part 7 §12).

A purchase as a pharmacy terminal runs it, through the two applets: the card's
INITIALIZE FOR PURCHASE, the PSAM's INIT SAM FOR PURCHASE (MAC1), the card's DEBIT FOR
PURCHASE (TAC ‖ MAC2), the PSAM's CREDIT SAM FOR PURCHASE.  The TAC, which no one in the
reader checks, is recomputed here from Part 7 §12.6 and §15.
"""

from __future__ import annotations

import datetime

import pytest

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu import builders as b
from sbkcard.applet_model.psam import Psam, psam_content
from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.applet_model.user_card import SECOND_GENERATION, THIRD_GENERATION, Profile, UserCard
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_PIN,
    card_atr,
    demo_card_content,
)
from sbkcard.applet_model.user_card.purse import PurseData
from sbkcard.keys import Algorithm, card_factor, city_factor, province_factor, tac
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys

TERMINAL = "410100000001"
WHEN = datetime.datetime(2025, 6, 30, 17, 45, 9)
DF04 = bytes.fromhex("D15600000503")
PSAM_ENV = {Algorithm.DES: b.SSSE_NAME, Algorithm.SM4: b.PSAM_SSF33_DDF_NAME}


class Reader:
    """One slot: short APDUs, ``61xx`` answered with GET RESPONSE, as a T=0 reader does."""

    def __init__(self, applet: Psam | UserCard) -> None:
        self.applet = applet

    def call(self, command: CommandAPDU) -> bytes:
        response = self.applet.process(bytes(command))
        status = int.from_bytes(response[-2:])
        if status >> 8 == 0x61:
            response = self.applet.process(bytes(b.get_response(status & 0xFF or 256)))
            status = int.from_bytes(response[-2:])
        assert status == 0x9000, f"{bytes(command)[:4].hex().upper()}: {status:04X}"
        return response[:-2]

    def status(self, command: CommandAPDU) -> int:
        return int.from_bytes(self.applet.process(bytes(command))[-2:])


def slots(profile: Profile, level: int, balance: int) -> tuple[Reader, Reader]:
    content = demo_card_content(profile)
    content["SSSE/DF04/PURSE"] = PurseData(balance=balance, year="2025").to_bytes()
    card = Reader(UserCard(MemoryStorage(content)))
    keys = demo_keyset(profile.algorithm)
    psam = Reader(Psam(MemoryStorage(psam_content(keys, level=level, terminal_number=TERMINAL))))
    card.call(b.select_ssse())
    card.call(b.verify(DEMO_PIN))
    card.call(b.select_by_name(DF04))
    psam.call(b.select_by_name(PSAM_ENV[profile.algorithm]))
    psam.call(b.select_by_name(b.PSAM_ADF_AID))
    psam.call(b.initialize_environment(DEMO_CARD_ID.to_bytes()[0]))
    return card, psam


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("profile", [SECOND_GENERATION, THIRD_GENERATION], ids=["2.00", "3.00"])
def test_a_purchase_between_card_and_psam(profile: Profile, level: int) -> None:
    cipher = profile.algorithm
    card, psam = slots(profile, level, balance=50_000)
    region = DEMO_CARD_ID.region
    atr = card_atr(profile, DEMO_CARD_ID)
    factors = [card_factor(atr), city_factor(region), province_factor(region)][:level]
    amounts = (1_280, 350, 2_900)
    for round_ in range(2):
        init = card.call(b.initialize_for_purchase(0x01, *amounts, TERMINAL))
        seq, version, algorithm, random = init[14:16], init[16], init[17], init[18:22]
        assert int.from_bytes(init[0:4]) == 50_000 - round_ * amounts[0]
        answer = psam.call(
            b.init_sam_for_purchase(
                card_random=random,
                card_sequence=int.from_bytes(seq),
                account=amounts[0],
                self_paid=amounts[1],
                pooled=amounts[2],
                transaction_type=ord("2"),
                time=WHEN,
                key_version=version,
                algorithm=algorithm,
                factors=factors,
            )
        )
        terminal_seq, mac1 = answer[:4], answer[4:]
        assert int.from_bytes(terminal_seq) == round_ + 1
        proof = card.call(b.debit_for_purchase(int.from_bytes(terminal_seq), WHEN, mac1))
        card_tac, mac2 = proof[:4], proof[4:]
        assert psam.status(b.credit_sam_for_purchase(mac2)) == 0x9000

        dtk = derive_card_keys(demo_keyset(cipher), region, atr)["DTK"]
        money = b"".join(a.to_bytes(4, "big") for a in amounts)
        time = bytes.fromhex(WHEN.strftime("%Y%m%d%H%M%S"))
        terminal = bytes.fromhex(TERMINAL)
        assert card_tac == tac(dtk, money + b"2" + terminal + terminal_seq + time, cipher)
    balance = card.call(b.get_balance())
    assert int.from_bytes(balance) == 50_000 - 2 * amounts[0]


def test_the_psam_refuses_a_forged_mac2() -> None:
    card, psam = slots(SECOND_GENERATION, 3, balance=10_000)
    init = card.call(b.initialize_for_purchase(0x01, 100, 0, 0, TERMINAL))
    atr = card_atr(SECOND_GENERATION, DEMO_CARD_ID)
    region = DEMO_CARD_ID.region
    answer = psam.call(
        b.init_sam_for_purchase(
            card_random=init[18:22],
            card_sequence=int.from_bytes(init[14:16]),
            account=100,
            self_paid=0,
            pooled=0,
            transaction_type=ord("2"),
            time=WHEN,
            key_version=init[16],
            algorithm=init[17],
            factors=[card_factor(atr), city_factor(region), province_factor(region)],
        )
    )
    proof = card.call(b.debit_for_purchase(int.from_bytes(answer[:4]), WHEN, answer[4:]))
    forged = bytes(4) if proof[4:] != bytes(4) else b"\x01\x02\x03\x04"
    assert psam.status(b.credit_sam_for_purchase(forged)) == 0x63CF
