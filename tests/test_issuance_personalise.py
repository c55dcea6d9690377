"""Issuing one card: batch keys, personalisation by APDUs, read back by the terminal."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from issuance_support import ISSUE_DATE, demo_psam, person

from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.issuance.applicants import validate_applicant
from sbkcard.issuance.personalise import (
    CARD_TYPE,
    INITIAL_PIN,
    CardCheckError,
    CardOrder,
    Verifier,
    blank_card,
    derive_keys,
    expected_storage,
    issue_card,
    personalise_card,
)
from sbkcard.issuance.registry import SqlRegistry
from sbkcard.keys import kcv
from sbkcard.keys.hierarchy import KeySet, demo_keyset, derive_card_keys
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.errors import AuthenticityError


def order(
    seq: int = 1,
    *,
    generation: int = 3,
    region: str = "410100",
    medical: bool = True,
    registry: SqlRegistry | None = None,
) -> CardOrder:
    fields = person(seq, region=region)
    if not medical:
        fields.update(insurance_type="", personnel_category="")
    applicant = validate_applicant(fields, seq + 1)
    record = (registry or SqlRegistry(":memory:")).reserve(
        applicant.ssn, applicant.name, applicant.region, owner="test"
    )
    return CardOrder.of(applicant, record, PROFILES[generation], ISSUE_DATE)


@pytest.mark.parametrize("generation", [2, 3])
@pytest.mark.parametrize("medical", [True, False])
def test_apdu_personalisation_equals_the_fast_path(generation: int, medical: bool) -> None:
    o = order(generation=generation, medical=medical)
    keyset = demo_keyset(o.profile.algorithm)
    (keys,) = derive_keys(keyset, [o])
    transport = demo_transport_key(o.profile.algorithm)
    card = blank_card(o, transport)
    assert card.atr == o.atr
    apdus = personalise_card(card, o, keys, transport)
    storage = dict(card.snapshot().storage)
    assert storage == expected_storage(o, keys)
    # every key of the card went in by its own WRITE KEY, each with a GET CHALLENGE
    assert apdus > 2 * len(keys)
    info = Verifier.software(keyset).check(card, o)
    assert info.genuine
    assert info.issuer.card_number == o.card_number
    assert info.issuer.card_type == CARD_TYPE
    assert info.holder.name == o.applicant.name
    assert info.expiry == datetime.date(2034, 6, 3)
    # reading back (and the PIN check) leaves the card as personalised
    assert dict(card.snapshot().storage) == storage


def test_batch_keys_are_each_cards_own_keys() -> None:
    reg = SqlRegistry(":memory:")
    orders = [
        order(n, region=region, registry=reg)
        for n, region in enumerate(["410100", "330100", "410100", "330100"], start=1)
    ]
    keyset = demo_keyset(orders[0].profile.algorithm)
    for o, keys in zip(orders, derive_keys(keyset, orders), strict=True):
        assert keys == derive_card_keys(keyset, o.region, o.atr)
    # one person, one card, one key: no two cards share a key
    irks = [keys["IRK"] for keys in derive_keys(keyset, orders)]
    assert len(set(irks)) == len(irks)


@pytest.mark.parametrize("generation", [2, 3])
def test_card_is_read_and_authenticated_through_a_psam(generation: int) -> None:
    o = order(generation=generation)
    keyset = demo_keyset(o.profile.algorithm)
    (keys,) = derive_keys(keyset, [o])
    card = issue_card(
        o,
        keys,
        transport_key=demo_transport_key(o.profile.algorithm),
        verifier=Verifier(psam=demo_psam()),
    )
    assert Verifier(psam=demo_psam()).check(card, o).genuine


class _Rejections:
    """A PSAM in its reader, counting the 6A80 (分散级数不符) answers of depth probes."""

    def __init__(self, psam: SimulatedCard) -> None:
        self.psam, self.count = psam, 0
        self.atr = psam.atr

    def power_on(self) -> bytes:
        return self.psam.power_on()

    def reset(self) -> bytes:
        return self.psam.reset()

    def power_off(self) -> None:
        self.psam.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.psam.transmit(apdu)
        self.count += answer[-2:] == b"\x6a\x80"
        return answer


def test_the_lines_psam_is_probed_for_the_first_card_only() -> None:
    """One verifier, one terminal: the PSAM's key depths are learned once (Part 9 §8)."""
    content = psam_content(level=2, terminal_number="410100000001")
    psam = _Rejections(SimulatedCard.create("psam", content, psam_atr("410100000001")))
    verifier = Verifier(psam=psam)
    registry = SqlRegistry(":memory:")
    orders = [order(n, registry=registry) for n in range(1, 4)]
    keyset = demo_keyset(orders[0].profile.algorithm)
    probes = []
    for o, keys in zip(orders, derive_keys(keyset, orders), strict=True):
        card = issue_card(
            o, keys, transport_key=demo_transport_key(keyset.algorithm), verifier=verifier
        )
        assert verifier.check(card, o).genuine
        probes.append(psam.count)
    # IRK, a national root in the key table, held at depth 2: one 6A80, on the first card
    assert probes == [1, 1, 1]


def test_check_names_the_item_that_differs() -> None:
    o = order()
    keyset = demo_keyset(o.profile.algorithm)
    (keys,) = derive_keys(keyset, [o])
    verifier = Verifier.software(keyset)
    card = issue_card(
        o, keys, transport_key=demo_transport_key(keyset.algorithm), verifier=verifier
    )
    other = dataclasses.replace(o.applicant, name="李四")
    with pytest.raises(CardCheckError, match="name reads '测试1号' instead of '李四'") as exc:
        verifier.check(card, dataclasses.replace(o, applicant=other))
    assert exc.value.field == "name"
    with pytest.raises(CardCheckError, match="issue date"):
        verifier.check(card, dataclasses.replace(o, issue_date=datetime.date(2024, 6, 4)))


def test_a_card_with_a_foreign_irk_is_not_genuine() -> None:
    o = order()
    demo = demo_keyset(o.profile.algorithm)
    forged = KeySet(demo.algorithm, {**demo.roots, "IRK": bytes(range(16))})
    assert kcv(forged.roots["IRK"], forged.algorithm) != kcv(demo.roots["IRK"], demo.algorithm)
    (keys,) = derive_keys(forged, [o])
    with pytest.raises(AuthenticityError):
        issue_card(
            o,
            keys,
            transport_key=demo_transport_key(demo.algorithm),
            verifier=Verifier.software(demo),
        )


def test_order_dates_and_repr() -> None:
    o = order()
    leap = dataclasses.replace(o, issue_date=datetime.date(2024, 2, 29))
    assert leap.expiry == datetime.date(2034, 2, 28)
    assert o.pin == INITIAL_PIN
    assert INITIAL_PIN not in repr(o) and o.card_number in repr(o)
    # without an explicit date the order takes the reservation's, so a resumed batch
    # makes the same order again
    record = SqlRegistry(":memory:").reserve(o.applicant.ssn, "x", "410100", owner="t")
    again = CardOrder.of(o.applicant, record, o.profile)
    assert again.issue_date == datetime.date.fromisoformat(record.created_at[:10])
