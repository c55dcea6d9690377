"""Issuing from a PKCS#11 token (SoftHSM2 made here): roots never leave it, cards check out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from issuance_support import ISSUE_DATE, demo_psam, person, write_csv
from softhsm_support import softhsm_tokens

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.cli import main
from sbkcard.issuance.applicants import read_applicants
from sbkcard.issuance.personalise import CardOrder, Verifier, expected_storage
from sbkcard.issuance.registry import CardStatus, SqlRegistry
from sbkcard.keys import Algorithm, diversify, kcv
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys
from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE, Pkcs11Store
from sbkcard.keys.store import KeyAlgorithm, root_label
from sbkcard.keys.store_keyset import StoreKeySet, batch_factor, issuer_keys
from sbkcard.simulator import load_image, save_image

pytestmark = pytest.mark.hsm

TOKEN = "sbkcard-centre"
PIN = "135792"
SPEC = f"pkcs11:token={TOKEN}"
TRANSPORT = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
OWNER = "centre-4101"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SoftHSM2 token of a provincial centre: the demo DES roots, non-extractable, and
    a transport key; the PIN in a file. The library is re-initialised on this token
    directory and finalised afterwards (other modules make their own)."""
    root = tmp_path_factory.mktemp("centre-hsm")
    with softhsm_tokens(root, PIN, TOKEN):
        pkcs11.lib(SOFTHSM2_MODULE).reinitialize()
        with Pkcs11Store(TOKEN, PIN) as store:
            for name, key in demo_keyset(Algorithm.DES).roots.items():
                store.put(root_label(Algorithm.DES, name), bytearray(key), KeyAlgorithm.DES)
            store.put("TRANSPORT", bytearray(TRANSPORT), KeyAlgorithm.DES)
        pin_file = root / "pin"
        pin_file.write_text(PIN + "\n", encoding="utf-8")
        yield pin_file
        pkcs11.lib(SOFTHSM2_MODULE).finalize()


def _argv(tmp_path: Path, pin_file: Path, *extra: str) -> list[str]:
    applicants = write_csv(tmp_path / "applicants.csv", [person(1), person(2), person(3)])
    psam = tmp_path / "psam.json"
    save_image(demo_psam(), psam)
    return [
        "issue",
        str(applicants),
        "--keys",
        SPEC,
        "--out",
        str(tmp_path / "out"),
        "--transport-key",
        "TRANSPORT",
        "--psam",
        str(psam),
        "--owner",
        OWNER,
        "--issue-date",
        ISSUE_DATE.strftime("%Y%m%d"),
        "--passphrase-file",
        str(pin_file),
        *extra,
    ]


def test_a_token_keeps_its_roots_and_derives_inside(token: Path) -> None:
    with issuer_keys(SPEC, PIN, algorithm=Algorithm.DES) as (keys, store):
        assert isinstance(keys, StoreKeySet) and store is not None
        assert not any(info.extractable for info in store.list_keys())
        assert keys.kcvs() == demo_keyset(Algorithm.DES).kcvs()


def test_issue_a_batch_from_the_token(
    tmp_path: Path, token: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_argv(tmp_path, token, "--profile", "2")) == 0
    shown = capsys.readouterr()
    out = tmp_path / "out"
    registry = SqlRegistry(out / "registry.db")
    records = {r.ssn: r for r in registry.cards(CardStatus.ISSUED)}
    accepted, rejected = read_applicants(tmp_path / "applicants.csv")
    assert len(records) == len(accepted) == 3 and not rejected
    roots = demo_keyset(Algorithm.DES)
    # the terminal reads every card back and authenticates it with the same roots in
    # software (the line itself checked them through the PSAM)
    verifier = Verifier.software(roots)
    card_keys: list[bytes] = []
    for applicant in accepted:
        order = CardOrder.of(applicant, records[applicant.ssn], PROFILES[2], ISSUE_DATE)
        card = load_image(out / f"{order.card_number}.json")
        assert card.atr == order.atr
        info = verifier.check(card, order)
        assert info.holder.name == applicant.name
        keys = derive_card_keys(roots, order.region, order.atr)
        card_keys.extend(keys.values())
        # the keys derived in the token are those the software hierarchy gives
        assert dict(card.snapshot().storage) == expected_storage(order, keys)
    # the batch transport key was diversified in the token: shown by its KCV only
    batch_transport = diversify(TRANSPORT, [batch_factor(OWNER)], Algorithm.DES)
    assert f"transport key KCV {kcv(batch_transport, Algorithm.DES).hex().upper()}" in shown.out
    assert "kept in the store" in shown.out and roots.kcvs()["IRK"] in shown.out
    text = (shown.out + shown.err).upper()
    summary = (out / "summary.json").read_text(encoding="utf-8").upper()
    for secret in (*roots.roots.values(), TRANSPORT, batch_transport, *card_keys):
        assert secret.hex().upper() not in text
        assert secret.hex().upper() not in summary


def test_token_refusals(tmp_path: Path, token: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _argv(tmp_path, token)
    assert main([*argv, "--profile", "3"]) == 1
    error = capsys.readouterr().err
    assert "SM4" in error and "PKCS#11" in error and "profile 3" in error
    without_psam = [a for a in argv if a != "--psam" and not a.endswith("psam.json")]
    assert main([*without_psam, "--profile", "2"]) == 2
    assert "--psam" in capsys.readouterr().err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_card_new_from_the_token_matches_the_demo_set(
    tmp_path: Path, token: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SBKCARD_PASSPHRASE", PIN)
    from_token, from_demo = tmp_path / "token.json", tmp_path / "demo.json"
    assert main(["card", "new", "--profile", "2", "--keys", SPEC, "--out", str(from_token)]) == 0
    assert main(["card", "new", "--profile", "2", "--keys", "demo", "--out", str(from_demo)]) == 0
    token_card, demo_card = load_image(from_token), load_image(from_demo)
    assert token_card.snapshot().storage == demo_card.snapshot().storage
