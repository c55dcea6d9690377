"""Issuing into blank chips in PC/SC readers: real pcscd + vpcd, real ``sbkcard sim``
processes playing a personalisation machine's chip stations (``--blank-stock``), real
``sbkcard issue --reader`` processes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from issuance_support import ISSUE_DATE, person, write_csv
from pcsc_stack import SimProcess

from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import card_atr, demo_transport_key
from sbkcard.cli import main
from sbkcard.identifiers.card_id import CardId
from sbkcard.issuance.applicants import read_applicants
from sbkcard.issuance.personalise import CardOrder, Verifier
from sbkcard.issuance.registry import CardStatus, SqlRegistry
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.pytest_plugin import make_card
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.blank_stock import SET_ASIDE_DIR
from sbkcard.simulator.pcscd import PcscdStack, bound_to_caller
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.terminal import Terminal

pytestmark = pytest.mark.pcsc


def _station(
    stack: PcscdStack, tmp: Path, slot: int, chips: int, first: int, *extra: str
) -> SimProcess:
    out = tmp / f"station{slot}"
    sim = SimProcess(
        stack,
        tmp / f"sim{slot}.log",
        "--port",
        str(stack.slot_port(slot)),
        "--blank-stock",
        str(chips),
        "--out-dir",
        str(out),
        "--first-serial",
        str(first),
        *extra,
    )
    sim.slots = (slot,)
    return sim.started()


def _issue(
    stack: PcscdStack, applicants: Path, out: Path, *readers: int, timeout: float = 2.0
) -> list[str]:
    argv = [sys.executable, "-m", "sbkcard", "issue", str(applicants), "--keys", "demo"]
    argv += ["--out", str(out), "--json", "--issue-date", ISSUE_DATE.strftime("%Y%m%d")]
    argv += ["--chip-timeout", str(timeout)]
    for slot in readers:
        argv += ["--reader", stack.reader_name(slot)]
    return argv


def _run(stack: PcscdStack, argv: list[str]) -> tuple[int, dict[str, object]]:
    env = {**os.environ, **stack.env}
    done = subprocess.run(bound_to_caller(argv), capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


def _finished(tmp: Path) -> dict[str, Path]:
    """Every finished chip image of every station, by SSN read back (each SSN once)."""
    keyset = demo_keyset(Algorithm.SM4)
    by_ssn: dict[str, Path] = {}
    for image in sorted(tmp.glob("station*/*.json")):
        card = load_image(image)
        with Terminal(card, key_service=SoftwareKeyService(keyset)).session() as conn:
            ssn = read_basic_info(conn).holder.ssn
        assert ssn not in by_ssn, f"{ssn} issued twice: {by_ssn[ssn]} and {image}"
        by_ssn[ssn] = image
    return by_ssn


def _check_issued(tmp: Path, applicants: Path, out: Path) -> None:
    """Each applicant's card is issued once, and its chip reads back with their data."""
    accepted, _ = read_applicants(applicants)
    images = _finished(tmp)
    registry = SqlRegistry(str(out / "registry.db"))
    verifier = Verifier.software(demo_keyset(Algorithm.SM4))
    try:
        assert len(registry.cards()) == len(accepted)
        for a in accepted:
            record = registry.live_card(a.ssn)
            assert record is not None and record.status is CardStatus.ISSUED
            image = images[a.ssn]
            assert image.stem == record.card_id.serial.hex().upper()
            order = CardOrder.of(a, record, PROFILES[3], ISSUE_DATE)
            verifier.check(load_image(image), order)
    finally:
        registry.close()


def test_two_readers_issue_a_batch(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(i) for i in range(1, 7)])
    out = tmp_path / "out"
    with (
        _station(sbk_pcscd, tmp_path, 0, 5, 1),
        _station(sbk_pcscd, tmp_path, 1, 5, 1001),
    ):
        code, summary = _run(sbk_pcscd, _issue(sbk_pcscd, applicants, out, 0, 1))
    assert code == 0, summary
    assert summary["counts"] == {**dict.fromkeys(summary["counts"], 0), "issued": 6}  # type: ignore[arg-type]
    _check_issued(tmp_path, applicants, out)
    serials = {p.stem for p in tmp_path.glob("station*/*.json")}
    assert any(s.startswith("0000") and int(s, 16) < 1001 for s in serials)
    assert any(int(s, 16) >= 1001 for s in serials), "both readers worked"
    # the same command again: nothing to do, nobody issued twice
    code, again = _run(sbk_pcscd, _issue(sbk_pcscd, applicants, out, 0, 1))
    assert code == 0 and again["counts"]["already issued"] == 6  # type: ignore[index]


def test_a_torn_chip_is_set_aside(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(i) for i in range(1, 4)])
    out = tmp_path / "out"
    with _station(sbk_pcscd, tmp_path, 0, 5, 1, "--faulty-chip", "2"):
        code, summary = _run(sbk_pcscd, _issue(sbk_pcscd, applicants, out, 0))
    assert code == 0, summary
    results = summary["results"]
    assert isinstance(results, list)
    notes = [r["reason"] for r in results if r.get("reason")]
    assert len(notes) == 1 and "chip 00000002 set aside" in notes[0], notes
    assert [p.stem for p in (tmp_path / "station0" / SET_ASIDE_DIR).iterdir()] == ["00000002"]
    _check_issued(tmp_path, applicants, out)


def test_rerun_after_sigkill_issues_nobody_twice(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(i) for i in range(1, 7)])
    out = tmp_path / "out"
    argv = _issue(sbk_pcscd, applicants, out, 0, 1)
    with (
        _station(sbk_pcscd, tmp_path, 0, 8, 1),
        _station(sbk_pcscd, tmp_path, 1, 8, 1001),
    ):
        env = {**os.environ, **sbk_pcscd.env}
        proc = subprocess.Popen(bound_to_caller(argv), stdout=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        while not list(out.glob("HA*.json")) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # into the next cards
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(list(out.glob("HA*.json"))) < 6, "killed too late to test anything"
        code, summary = _run(sbk_pcscd, argv)
    assert code == 0, summary
    _check_issued(tmp_path, applicants, out)


def test_empty_reader_and_chip_not_blank(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(1)])
    out = tmp_path / "out"
    code, summary = _run(sbk_pcscd, _issue(sbk_pcscd, applicants, out, 0, timeout=0.5))
    assert code == 1
    results = summary["results"]
    assert isinstance(results, list)
    assert "reader 'Virtual PCD 00 00': no chip within 0.5 s" in results[0]["reason"]
    image = tmp_path / "issued.json"
    issued = make_card(3)  # a personalised card, with a serial of its own
    atr = card_atr(PROFILES[3], CardId("410100", bytes.fromhex("00000099"), b"\xff" * 4))
    save_image(SimulatedCard.create("user-card", issued.nvm.contents(), atr, profile=3), image)
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--card", str(image)).started():
        code, summary = _run(sbk_pcscd, _issue(sbk_pcscd, applicants, out, 0, timeout=0.5))
    assert code == 1
    results = summary["results"]
    assert isinstance(results, list)
    assert (
        "chip 00000099 set aside: it is not blank (SELECT SSSE answers 61" in results[0]["reason"]
    )


def _bureau_store(tmp: Path) -> tuple[Path, Path, str]:
    """A software key store with the demo roots and a transport key of its own, its
    passphrase file, and that key's KCV (as ``keys generate`` shows it)."""
    secret, store = tmp / "pass.txt", tmp / "bureau.keys"
    secret.write_text("correct horse battery staple\n", encoding="utf-8")
    common = ["--passphrase-file", str(secret)]
    assert main(["keys", "new-demo", "--out", str(store), "--algorithm", "sm4", *common]) == 0
    generate = ["keys", "generate", str(store), "--label", "TK-2024", "--algorithm", "SM4"]
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        assert main([*generate, "--length", "16", "--extractable", *common]) == 0
    return store, secret, shown.getvalue().rsplit("KCV ", 1)[1].strip()


def test_a_stock_made_with_the_bureaus_transport_key(sbk_pcscd: PcscdStack, tmp_path: Path) -> None:
    store, secret, store_kcv = _bureau_store(tmp_path)
    keys = ["--keys", str(store), "--transport-key", "TK-2024", "--passphrase-file", str(secret)]
    applicants = write_csv(tmp_path / "a.csv", [person(i) for i in range(1, 4)])
    out = tmp_path / "out"
    demo_kcv = kcv(demo_transport_key(Algorithm.SM4), Algorithm.SM4).hex().upper()
    with _station(sbk_pcscd, tmp_path, 0, 5, 1, *keys) as station:
        log = station.output()
        assert f"5 blank chips, transport key KCV {store_kcv} (TK-2024)" in log
        opened = SoftKeyStore.open(store, secret.read_text().strip())
        with opened, opened.use("TK-2024") as key:
            assert key.hex().upper() not in log.upper()
        # issued with the demo keys: the first chip refuses the transport key, the batch stops
        env = {**os.environ, **sbk_pcscd.env}
        argv = _issue(sbk_pcscd, applicants, out, 0)
        wrong = subprocess.run(
            bound_to_caller(argv), capture_output=True, text=True, env=env, timeout=60
        )
        assert (wrong.returncode, wrong.stdout) == (1, ""), repr(wrong.stderr)
        assert wrong.stderr.splitlines() == [
            "sbkcard: error: reader 'Virtual PCD 00 00': chip 00000001: the chip refused the "
            "transport key (EXTERNAL AUTHENTICATE answered 63C2: 2 tries left); the blank stock "
            f"holds another transport key than this batch's (KCV {demo_kcv}). Stopped before "
            "spending more chips: none set aside, the cards stay reserved; run the same "
            "command with the --keys and --transport-key the stock was made with"
        ]
        assert not list((tmp_path / "station0").rglob("*.json"))  # no chip left the station
        registry = SqlRegistry(str(out / "registry.db"))
        assert [c.status for c in registry.cards()] == [CardStatus.PERSONALISING] * 3
        registry.close()
        # the same command with the bureau's keys issues every card, from the same chips
        argv[argv.index("demo")] = str(store)
        argv += ["--transport-key", "TK-2024", "--passphrase-file", str(secret)]
        code, summary = _run(sbk_pcscd, argv)
    assert code == 0, summary
    assert summary["keys"]["transport_kcv"] == store_kcv  # type: ignore[index]
    assert summary["counts"]["issued"] == 3  # type: ignore[index]
    assert sorted(p.stem for p in (tmp_path / "station0").glob("*.json")) == [
        "00000001",
        "00000002",
        "00000003",
    ]
    assert not (tmp_path / "station0" / SET_ASIDE_DIR).exists()
    _check_issued(tmp_path, applicants, out)


def test_a_transport_key_held_in_the_store_is_the_batchs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key the store keeps (as a token's) gives each batch its own diversified transport
    key: the stock made for batch ``line-7`` has the key ``issue --owner line-7`` uses."""
    store, secret, _ = _bureau_store(tmp_path)
    common = ["--passphrase-file", str(secret)]
    generate = ["keys", "generate", str(store), "--label", "TK-HELD", "--algorithm", "SM4"]
    assert main([*generate, "--length", "16", *common]) == 0
    keys = ["--keys", str(store), "--transport-key", "TK-HELD", *common]
    with socket.socket() as probe:  # a port where no vpcd listens
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    sim = [sys.executable, "-m", "sbkcard", "sim", "--vpcd", "--port", port, "--blank-stock", "2"]
    sim += ["--out-dir", str(tmp_path / "stock"), *keys, "--connect-timeout", "0.1"]
    refused = subprocess.run(bound_to_caller(sim), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "give --batch NAME (the issuing line's --owner)" in refused.stderr
    des = subprocess.run(
        bound_to_caller([*sim, "--profile", "2"]), capture_output=True, text=True, timeout=60
    )
    assert des.returncode == 2
    assert "TK-HELD: SM4 key, but profile 2 chips take DES transport keys" in des.stderr
    made = subprocess.run(
        bound_to_caller([*sim, "--batch", "line-7"]), capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 1  # no vpcd: but the stock was made first
    stock_kcv = made.stderr.split("transport key KCV ", 1)[1].split()[0]
    applicants = write_csv(tmp_path / "a.csv", [person(1)])
    issue = ["issue", str(applicants), *keys, "--out", str(tmp_path / "out"), "--json"]
    capsys.readouterr()
    assert main([*issue, "--owner", "line-7"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"]["transport_kcv"] == stock_kcv
    assert main([*issue, "--owner", "line-8", "--out", str(tmp_path / "out8")]) == 0
    assert json.loads(capsys.readouterr().out)["keys"]["transport_kcv"] != stock_kcv


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--blank-stock", "0", "--out-dir", "d"], "--blank-stock must be at least 1 chip"),
        (["--blank-stock", "3"], "--blank-stock needs --out-dir DIR"),
        (["--blank-stock", "3", "--out-dir", "d", "--region", "12"], "region code is 6 decimal"),
        (["--card", "c.json", "--faulty-chip", "2"], "--out-dir, --faulty-chip, --keys, "),
        (["--card", "c.json", "--keys", "k.keys"], "--transport-key and --batch go with"),
        (
            ["--blank-stock", "3", "--out-dir", "d", "--transport-key", "T"],
            "--transport-key and --batch need --keys KEYSTORE (not demo)",
        ),
        (
            ["--blank-stock", "3", "--out-dir", "d", "--keys", "k.keys"],
            "--transport-key LABEL: name the batch's transport key in the store",
        ),
    ],
)
def test_blank_stock_usage(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sim", "--vpcd", *args]) == 2
    assert message in capsys.readouterr().err
