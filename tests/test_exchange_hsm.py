"""Data preparation from a PKCS#11 token on Dask: each worker logs in to the token itself."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from exchange_support import applicants
from issuance_support import ISSUE_DATE
from test_issuance_hsm import PIN, SPEC, TRANSPORT, token  # noqa: F401  (the fixture)

from sbkcard.identifiers.card_id import CardId
from sbkcard.issuance.exchange.engine import local_client, prepare_locally, prepare_on_dask
from sbkcard.issuance.exchange.prepare import (
    PrepItem,
    PrepJob,
    PrepKeys,
    iter_entries,
    key_layout,
    open_entry,
    open_keys,
)
from sbkcard.keys import Algorithm, diversify
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys
from sbkcard.keys.passphrase import PASSPHRASE_ENV
from sbkcard.keys.store_keyset import StoreKeySet, batch_factor

pytestmark = pytest.mark.hsm


def test_workers_derive_inside_their_own_token_session(token: Path) -> None:  # noqa: F811
    job = PrepJob(SPEC, "TRANSPORT", "centre-2024-06", 2)
    with ExitStack() as stack:
        _check(job, open_keys(job, stack, PIN))


def _check(job: PrepJob, keys: PrepKeys) -> None:
    assert isinstance(keys.keyset, StoreKeySet)  # the roots stay in the token
    # the token's transport key never leaves it: the batch's is diversified inside it
    assert keys.transport_key == diversify(TRANSPORT, [batch_factor(job.batch)], Algorithm.DES)
    people = applicants(2)
    items = [
        PrepItem(a, f"HA{i:06d}X", CardId("410100", i.to_bytes(4, "big"), b"\xff" * 4), ISSUE_DATE)
        for i, a in enumerate(people, start=1)
    ]
    parts = [items[:1], items[1:]]
    local = list(prepare_locally(keys, job, parts))
    with local_client(1, env={PASSPHRASE_ENV: PIN}) as client:
        assert list(prepare_on_dask(client, job, parts)) == local
    roots = demo_keyset(Algorithm.DES)
    for item, part in zip(items, local, strict=True):
        (entry,) = iter_entries(part)
        opened = open_entry(entry, keys.transport_key, Algorithm.DES, key_layout(keys))
        atr = item.order(job.profile).atr
        assert opened == derive_card_keys(roots, "410100", atr)
