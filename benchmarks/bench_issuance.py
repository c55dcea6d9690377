"""Cards personalised per second in the simulator: by APDUs against the direct fast path.

Ours is the personalisation machine's way (:func:`sbkcard.issuance.personalise.personalise_card`):
a blank chip, then every CREATE FILE, WRITE KEY (ciphertext + MAC), UPDATE RECORD …
through ``transmit`` to the simulated COS on its journaled NVM — and, in a second row,
the whole of :func:`~sbkcard.issuance.personalise.issue_card` with the terminal's read
back and authentication. The peer is the fast path on the same inputs:
:func:`~sbkcard.applet_model.user_card.personalise.user_card_content` computing the
storage map, hosted by a :class:`~sbkcard.simulator.SimulatedCard` — the same card, no
APDUs. Keys are derived once (their cost is ``bench_diversify``'s). Both generations;
samples alternate between ours and the peer. No target: the ratio is the price of
personalising by commands, as a real line does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from benchmarks.harness import Row
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.issuance.applicants import validate_applicant
from sbkcard.issuance.personalise import (
    CardOrder,
    Verifier,
    blank_card,
    derive_keys,
    expected_storage,
    issue_card,
    personalise_card,
)
from sbkcard.issuance.registry import SqliteRegistry
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.simulator import SimulatedCard

ROUNDS = 3
CARDS = 6
"""Cards per round and per side."""
APPLICANT = {
    "ssn": "410102198101010015",
    "name": "测试",
    "gender": "1",
    "ethnicity": "01",
    "birthplace": "410102",
    "birth_date": "19810101",
    "region": "410100",
    "insurance_type": "31001100",
    "personnel_category": "11",
}


def _per_second(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(CARDS):
        func()
    return CARDS / (time.perf_counter() - start)


def _rows(generation: int) -> list[Row]:
    profile = PROFILES[generation]
    applicant = validate_applicant(APPLICANT, 2)
    record = SqliteRegistry(":memory:").reserve(applicant.ssn, applicant.name, applicant.region)
    order = CardOrder.of(applicant, record, profile)
    keyset = demo_keyset(profile.algorithm)
    (keys,) = derive_keys(keyset, [order])
    transport = demo_transport_key(profile.algorithm)
    verifier = Verifier.software(keyset)

    def by_apdus() -> SimulatedCard:
        card = blank_card(order, transport)
        personalise_card(card, order, keys, transport)
        return card

    def issued() -> SimulatedCard:
        return issue_card(order, keys, transport_key=transport, verifier=verifier)

    def fast_path() -> SimulatedCard:
        return SimulatedCard.create(
            "user-card", expected_storage(order, keys), order.atr, profile=generation
        )

    if dict(by_apdus().snapshot().storage) != dict(fast_path().snapshot().storage):
        raise AssertionError(f"generation {generation}: APDU path and fast path disagree")
    samples: dict[str, list[float]] = {"apdus": [], "issue": [], "fast": []}
    for _ in range(ROUNDS):
        samples["apdus"].append(_per_second(by_apdus))
        samples["fast"].append(_per_second(fast_path))
        samples["issue"].append(_per_second(issued))
    fast = statistics.median(samples["fast"])
    label = f"{profile.algorithm.name}, {profile.version}"
    peer = "user_card_content, no APDUs"
    return [
        Row(
            f"cards personalised by APDUs ({label})",
            statistics.median(samples["apdus"]),
            fast,
            "cards/s",
            peer,
        ),
        Row(
            f"cards issued: APDUs + terminal check ({label})",
            statistics.median(samples["issue"]),
            fast,
            "cards/s",
            peer,
        ),
    ]


def run() -> list[Row]:
    """Both generations (DES 2.00 and SM4 3.00)."""
    return [row for generation in sorted(PROFILES) for row in _rows(generation)]
