"""Shared setup of the exchange tests: two parties, a registry, demo keys, applicants."""

from __future__ import annotations

import functools
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from issuance_support import ISSUE_DATE, person

from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.issuance.applicants import Applicant, validate_applicant
from sbkcard.issuance.exchange.engine import prepare_locally
from sbkcard.issuance.exchange.issuer import Ledger, export_batch
from sbkcard.issuance.exchange.parties import PartyKeys, generate_party
from sbkcard.issuance.exchange.prepare import PrepJob, PrepKeys, open_keys
from sbkcard.issuance.registry import SqlRegistry
from sbkcard.keys import Algorithm


@functools.cache
def parties() -> tuple[PartyKeys, PartyKeys, PartyKeys]:
    """The issuer, the bureau and a stranger (RSA key generation is slow: made once)."""
    return generate_party("河南省社保卡发卡中心"), generate_party("制卡厂"), generate_party("other")


def applicants(count: int, start: int = 0) -> list[Applicant]:
    """``count`` valid applicants of 郑州市."""
    return [validate_applicant(person(i), i + 2) for i in range(start, start + count)]


JOB = PrepJob("demo", None, "batch-1", 3)


def demo_keys(job: PrepJob = JOB) -> PrepKeys:
    """The published TEST keys and transport key of ``job``."""
    return open_keys(job, ExitStack())


def bureau_transport(algorithm: Algorithm, batch: str) -> bytes:
    """The bureau's copy of the demo transport key."""
    return demo_transport_key(algorithm)


@dataclass(frozen=True)
class Exported:
    """An export, with its card numbers from the ledger."""

    file_id: str
    cards: list[str]
    rejected: list[tuple[int, str, str]]


def export(directory: Path, people: list[Applicant], name: str = "batch.sbkx") -> Exported:
    """Export ``people`` from the issuer to the bureau, in one process."""
    issuer, bureau, _ = parties()
    keys = demo_keys()
    ledger = Ledger(directory / "exchange.db")
    summary = export_batch(
        people,
        registry=SqlRegistry(directory / "registry.db"),
        ledger=ledger,
        job=JOB,
        keys=keys,
        issuer=issuer,
        bureau=bureau.public,
        out=directory / name,
        prepare=lambda parts: prepare_locally(keys, JOB, parts),
        issue_date=ISSUE_DATE,
        partition=3,
    )
    return Exported(summary.file_id, ledger.exported_cards(summary.file_id), summary.rejected)


PASSPHRASE = "correct horse battery staple"


def key_store(directory: Path) -> tuple[str, str]:
    """A software key store with SM4 roots (not the demo's) and the extractable SM4 key
    ``TRANSPORT``, made by ``sbkcard keys``; its path and passphrase (also in
    ``directory/passphrase``)."""
    from sbkcard.cli import main

    secret = directory / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    path = directory / "keys.json"
    common = ["--passphrase-file", str(secret)]
    argv = ["keys", "new-demo", "--out", str(path), "--algorithm", "sm4"]
    assert main([*argv, *common]) == 0
    argv = ["keys", "generate", str(path), "--label", "TRANSPORT", "--algorithm", "SM4"]
    assert main([*argv, "--length", "16", "--extractable", *common]) == 0
    return str(path), PASSPHRASE
