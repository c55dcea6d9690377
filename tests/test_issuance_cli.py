"""``sbkcard issue``: summary, card images, resuming, key stores; no key on the screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from issuance_support import person, write_csv

from sbkcard.cli import main
from sbkcard.issuance.batch import SUMMARY_NAME
from sbkcard.issuance.registry import CardStatus, SqlRegistry
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.simulator import load_image


def applicants(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "applicants.csv",
        [person(1), person(2), person(3, gender="7"), person(1)],
    )


def test_issue_with_demo_keys_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["issue", str(applicants(tmp_path)), "--keys", "demo", "--out", str(out)]
    assert main([*argv, "--issue-date", "20240603", "--profile", "2"]) == 0
    text = capsys.readouterr().out
    assert "issuance summary" in text and "rejected" in text
    assert "GB 2261.1" in text and "duplicate of line 2" in text
    assert "TEST KEY" in text
    summary = json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert summary["counts"]["issued"] == 2 and summary["counts"]["rejected"] == 2
    registry = SqlRegistry(out / "registry.db")
    cards = registry.cards(CardStatus.ISSUED)
    assert len(cards) == 2
    for card in cards:
        image = load_image(out / f"{card.card_number}.json")
        assert image.profile == 2
    # the same command again: nothing issued twice
    assert main([*argv, "--profile", "2"]) == 0
    assert "already issued" in capsys.readouterr().out
    assert json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))["counts"] == {
        "issued": 0,
        "replaced": 0,
        "already issued": 2,
        "rejected": 2,
        "failed": 0,
    }
    assert len(registry.cards()) == 2


def test_issue_from_a_key_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n", encoding="utf-8")
    store = tmp_path / "keys.json"
    common = ["--passphrase-file", str(secret)]
    assert (
        main(
            [
                "keys",
                "new-demo",
                "--out",
                str(store),
                "--algorithm",
                "sm4",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "keys",
                "generate",
                str(store),
                "--label",
                "TRANSPORT",
                "--algorithm",
                "SM4",
                "--length",
                "16",
                "--extractable",
                *common,
            ]
        )
        == 0
    )
    generated = capsys.readouterr().out
    store_transport_kcv = generated.rsplit("KCV ", 1)[1].strip()
    out = tmp_path / "out"
    argv = ["issue", str(applicants(tmp_path)), "--keys", str(store), "--out", str(out), *common]
    assert main(argv) == 2
    assert "--transport-key" in capsys.readouterr().err
    assert main([*argv, "--transport-key", "TRANSPORT", "--owner", "line-7"]) == 0
    shown = capsys.readouterr()
    registry = SqlRegistry(out / "registry.db")
    assert {c.owner for c in registry.cards()} == {"line-7"}
    # no key of the set, nor the transport key, appears in the output
    keys = demo_keyset(Algorithm.SM4).roots.values()
    for key in keys:
        assert key.hex() not in shown.out.lower() and key.hex().upper() not in shown.out
    opened = SoftKeyStore.open(store, secret.read_text().strip())
    with opened, opened.use("TRANSPORT") as transport:
        assert transport.hex().upper() not in shown.out.upper()
    # keys are identified by their check values
    assert f"transport key KCV {store_transport_kcv}" in shown.out
    assert demo_keyset(Algorithm.SM4).kcvs()["IRK"] in shown.out


def test_issue_refuses_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["issue", str(applicants(tmp_path)), "--keys", "demo", "--out", str(tmp_path / "o")]
    assert main([*argv, "--issue-date", "2024-13-01"]) == 2
    assert "--issue-date" in capsys.readouterr().err
    assert main([*argv, "--transport-key", "T"]) == 2
    assert main([*argv, "--keys", "demo:DES", "--profile", "3"]) == 2
    assert "SM4" in capsys.readouterr().err
