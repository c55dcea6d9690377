"""Data preparation: what a card's entry holds, and one process against Dask (Part 10 §5.3)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchange_support import JOB, applicants, demo_keys, key_store
from issuance_support import ISSUE_DATE

from sbkcard.applet_model.user_card.fcp import body_key
from sbkcard.identifiers.card_id import CardId
from sbkcard.issuance.exchange.engine import local_client, prepare_locally, prepare_on_dask
from sbkcard.issuance.exchange.issuer import partitioned
from sbkcard.issuance.exchange.parties import ExchangeError
from sbkcard.issuance.exchange.prepare import (
    CardEntry,
    PrepItem,
    PrepJob,
    iter_entries,
    key_layout,
    open_entry,
    prepare_partition,
)
from sbkcard.issuance.personalise import expected_storage
from sbkcard.keys.hierarchy import CARD_KEYS, derive_card_keys
from sbkcard.keys.passphrase import PASSPHRASE_ENV


def items(count: int, start: int = 0) -> list[PrepItem]:
    """Reserved cards for ``count`` applicants, serials from ``start``."""
    return [
        PrepItem(a, f"HA{i:06d}X", CardId("410100", i.to_bytes(4, "big"), b"\xff" * 4), ISSUE_DATE)
        for i, a in enumerate(applicants(count, start), start=start)
    ]


def test_an_entry_holds_the_cards_keys_under_the_transport_key() -> None:
    keys = demo_keys()
    batch = items(4)
    part = prepare_partition(keys, JOB.profile, batch)
    entries = list(iter_entries(part))
    assert [e.card_number for e in entries] == [i.card_number for i in batch]
    layout = key_layout(keys)
    assert layout == [(spec.name, 16) for spec in CARD_KEYS]
    for item, entry in zip(batch, entries, strict=True):
        order = item.order(JOB.profile)
        assert entry.item() == item
        expected = derive_card_keys(demo_keys().keyset, "410100", order.atr)  # type: ignore[arg-type]
        opened = open_entry(entry, keys.transport_key, keys.algorithm, layout)
        assert opened == expected
        # no key appears in clear in the entry
        assert all(key not in part for key in expected.values())
        # the records are the bodies the card holds once personalised
        storage = expected_storage(order, expected)
        for path, record in entry.records().items():
            assert storage[body_key(path)] == record


def test_a_bad_mac_is_refused() -> None:
    keys = demo_keys()
    entry = next(iter_entries(prepare_partition(keys, JOB.profile, items(1))))
    altered = CardEntry(entry.meta, entry.body.replace(b"HA", b"HB"), entry.ciphertext, entry.tag)
    with pytest.raises(ExchangeError, match="MAC does not verify"):
        open_entry(altered, keys.transport_key, keys.algorithm, key_layout(keys))
    with pytest.raises(ExchangeError, match="MAC does not verify"):
        open_entry(entry, bytes(16), keys.algorithm, key_layout(keys))


def test_the_same_cards_give_the_same_bytes_however_partitioned() -> None:
    keys = demo_keys()
    batch = items(7)
    whole = prepare_partition(keys, JOB.profile, batch)
    split = b"".join(prepare_locally(keys, JOB, partitioned(batch, 3)))
    assert whole == split


def _counting(parts: list[list[PrepItem]], taken: list[int]) -> Iterator[list[PrepItem]]:
    for part in parts:
        taken.append(len(taken))
        yield part


def test_dask_output_is_byte_identical_and_bounded() -> None:
    keys = demo_keys()
    parts = list(partitioned(items(24), 2))
    local = list(prepare_locally(keys, JOB, parts))
    taken: list[int] = []
    collected: list[bytes] = []
    with local_client(2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        for part in prepare_on_dask(client, JOB, _counting(parts, taken), in_flight=3):
            collected.append(part)
            # never more than in_flight partitions taken beyond those collected
            assert len(taken) - len(collected) <= 3
        assert collected == local
        # the workers run with glibc's own malloc trimming and without dask's profiler
        settings = client.run(_worker_settings)
        assert list(settings.values()) == [(None, False)] * 2


def _worker_settings() -> tuple[str | None, bool]:
    import os

    import dask

    profile = dask.config.get("distributed.worker.profile.enabled")
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), bool(profile)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, str]:
    """A software key store with SM4 roots and a transport key, and its passphrase."""
    return key_store(tmp_path)


def test_workers_open_the_key_store_themselves(store: tuple[str, str]) -> None:
    """The job names the store; each worker opens it with the passphrase of its environment."""
    from contextlib import ExitStack

    from sbkcard.issuance.exchange.prepare import open_keys

    path, secret = store
    job = PrepJob(path, "TRANSPORT", "batch-9", 3)
    keys = open_keys(job, ExitStack(), secret)
    assert keys.transport_kcv != demo_keys().transport_kcv
    parts = list(partitioned(items(6), 3))
    local = list(prepare_locally(keys, job, parts))
    with local_client(2, env={PASSPHRASE_ENV: secret}) as client:
        assert list(prepare_on_dask(client, job, parts)) == local
    # what a worker receives (the job and its pickled cards) carries neither key nor passphrase
    sent = pickle.dumps((job, pickle.dumps(parts[0], pickle.HIGHEST_PROTOCOL)))
    assert keys.transport_key not in sent
    assert secret.encode() not in sent
