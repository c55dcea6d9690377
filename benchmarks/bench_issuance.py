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

A last row issues DES cards from a SoftHSM2 token made for the run, whose roots never
leave it (:class:`~sbkcard.keys.store_keyset.StoreKeySet`: each card's keys derived in
the token), against the same line on a software key store's roots in clear (batch
derivation): key derivation plus :func:`~sbkcard.issuance.personalise.issue_card`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.harness import Row
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.identifiers.ssn import ssn_check_char
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
from sbkcard.issuance.registry import SqlRegistry
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import KeyAlgorithm, KeyStore, root_label
from sbkcard.keys.store_keyset import IssuerKeys, issuer_keys
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
    record = SqlRegistry(":memory:").reserve(applicant.ssn, applicant.name, applicant.region)
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


TOKEN = "sbkcard-bench"
PIN = "112233"
STORE_PASSPHRASE = "benchmark key store passphrase"


def _fill(store: KeyStore, *, extractable: bool) -> None:
    for name, key in demo_keyset(Algorithm.DES).roots.items():
        label = root_label(Algorithm.DES, name)
        store.put(label, bytearray(key), KeyAlgorithm.DES, extractable=extractable)


@contextmanager
def _stores(directory: Path) -> Iterator[tuple[str, str]]:
    """A software key store and a SoftHSM2 token holding the demo DES roots."""
    import pkcs11

    from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE, Pkcs11Store

    soft = directory / "keys.json"
    with SoftKeyStore.create(soft, STORE_PASSPHRASE) as store:
        _fill(store, extractable=True)
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    util = shutil.which("softhsm2-util") or "softhsm2-util"
    init = [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", PIN]
    subprocess.run(init, check=True, capture_output=True)
    pkcs11.lib(SOFTHSM2_MODULE).reinitialize()
    try:
        with Pkcs11Store(TOKEN, PIN) as token:
            _fill(token, extractable=False)
        yield str(soft), f"pkcs11:token={TOKEN}"
    finally:
        pkcs11.lib(SOFTHSM2_MODULE).finalize()
        if previous is None:
            del os.environ["SOFTHSM2_CONF"]
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _token_row() -> Row:
    profile = PROFILES[2]
    applicant = validate_applicant(APPLICANT, 2)
    registry = SqlRegistry(":memory:")
    orders = []
    for i in range(CARDS):
        body = f"{applicant.ssn[:14]}{i:03d}"
        record = registry.reserve(body + ssn_check_char(body), applicant.name, applicant.region)
        orders.append(CardOrder.of(applicant, record, profile))
    transport = demo_transport_key(profile.algorithm)
    verifier = Verifier.software(demo_keyset(profile.algorithm))

    def issue_all(keys: IssuerKeys) -> Callable[[], object]:
        def issue() -> None:
            for order, card_keys in zip(orders, derive_keys(keys, orders), strict=True):
                issue_card(order, card_keys, transport_key=transport, verifier=verifier)

        return issue

    samples: dict[str, list[float]] = {"token": [], "soft": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        _stores(Path(tmp)) as (soft, token),
        issuer_keys(soft, STORE_PASSPHRASE, algorithm=Algorithm.DES) as (in_clear, _),
        issuer_keys(token, PIN, algorithm=Algorithm.DES) as (in_token, _),
    ):
        if derive_keys(in_clear, orders) != derive_keys(in_token, orders):
            raise AssertionError("the token and the software store derive different keys")
        for _ in range(ROUNDS):
            for side, keys in (("soft", in_clear), ("token", in_token)):
                start = time.perf_counter()
                issue_all(keys)()
                samples[side].append(CARDS / (time.perf_counter() - start))
    return Row(
        "cards issued, keys derived in a SoftHSM2 token (DES, 2.00)",
        statistics.median(samples["token"]),
        statistics.median(samples["soft"]),
        "cards/s",
        "software key store, batch derivation",
    )


def run() -> list[Row]:
    """Both generations (DES 2.00 and SM4 3.00), then DES from a token against software."""
    rows = [row for generation in sorted(PROFILES) for row in _rows(generation)]
    return [*rows, _token_row()]
