"""``sbkcard exchange``: every step from the command line, --json, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from exchange_support import key_store
from issuance_support import person, write_csv

from sbkcard.cli import main
from sbkcard.cli.exchange import KEY_PASSPHRASE_ENV
from sbkcard.issuance.registry import CardStatus, SqlRegistry

KEY_PASSPHRASE = "two parties, two passphrases in real life"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["exchange", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture(scope="module")
def keyfiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both parties' key files, made once by ``exchange keygen`` (RSA generation is slow)."""
    where = tmp_path_factory.mktemp("parties")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_PASSPHRASE_ENV, KEY_PASSPHRASE)
        for name, prefix in (("河南省社保卡发卡中心", "issuer"), ("制卡厂", "bureau")):
            assert main(["exchange", "keygen", "--party", name, "--out", str(where / prefix)]) == 0
    return where


@pytest.fixture
def parties(keyfiles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding both parties' key files."""
    monkeypatch.setenv(KEY_PASSPHRASE_ENV, KEY_PASSPHRASE)
    monkeypatch.chdir(tmp_path)
    for path in keyfiles.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_the_whole_exchange_from_the_command_line(
    parties: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    write_csv(parties / "applicants.csv", [person(1), person(2), person(3, ssn="bad")])
    code, out = _run(
        capsys,
        "export", "applicants.csv", "--keys", "demo", "--batch", "郑州-2024-06",
        "--registry", "registry.db", "--issuer-key", "issuer.key", "--bureau", "bureau.pub",
        "--out", "batch.sbkx", "--issue-date", "20240603", "--workers", "2", "--partition", "1",
    )  # fmt: skip
    assert code == 0, out
    assert out["cards"] == 2
    assert [r["line"] for r in out["rejected"]] == [4]  # type: ignore[union-attr]
    common = ["--bureau-key", "bureau.key", "--issuer", "issuer.pub"]
    code, out = _run(capsys, "personalise", "batch.sbkx", *common, "--transport-keys", "demo",
                     "--out", "work")  # fmt: skip
    assert (code, out["counts"]) == (0, {"issued": 2, "failed": 0, "spoiled": 0})
    code, out = _run(capsys, "result", "work", *common, "--out", "result.sbkx")
    assert code == 0
    back = ["--issuer-key", "issuer.key", "--bureau", "bureau.pub", "--registry", "registry.db"]
    code, out = _run(capsys, "import", "result.sbkx", *back)
    assert (code, out["counts"]) == (0, {"issued": 2, "failed": 0, "spoiled": 0})
    registry = SqlRegistry(parties / "registry.db")
    assert {r.status for r in registry.cards()} == {CardStatus.ISSUED}
    # a replay: refused, exit 1, the cause named
    code, out = _run(capsys, "import", "result.sbkx", *back)
    assert code == 1
    assert out["ok"] is False and "a replay is refused" in str(out["error"])
    code, out = _run(capsys, "delete", "batch.sbkx", "work", "--transcript", "deletion.jsonl",
                     "--operator", "李四", "--supervisor", "王五")  # fmt: skip
    assert code == 0 and out["card_images"] == 2


def test_refusals_exit_1_with_the_cause(parties: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    write_csv(parties / "applicants.csv", [person(1)])
    code, _ = _run(
        capsys,
        "export", "applicants.csv", "--keys", "demo", "--batch", "b", "--registry", "r.db",
        "--issuer-key", "issuer.key", "--bureau", "bureau.pub", "--out", "batch.sbkx",
        "--workers", "0",
    )  # fmt: skip
    assert code == 0
    # the issuer cannot open a file addressed to the bureau
    side = ["--issuer", "issuer.pub", "--transport-keys", "demo", "--out", "w"]
    code, out = _run(capsys, "personalise", "batch.sbkx", "--bureau-key", "issuer.key", *side)
    assert code == 1 and "wrong recipient" in str(out["error"])
    data = (parties / "batch.sbkx").read_bytes()
    (parties / "cut.sbkx").write_bytes(data[: len(data) // 2])
    code, out = _run(capsys, "personalise", "cut.sbkx", "--bureau-key", "bureau.key", *side)
    assert code == 1 and "truncated" in str(out["error"])
    code = main(["exchange", "keygen", "--party", "again", "--out", "issuer"])
    assert code == 1
    assert "never overwritten" in capsys.readouterr().err


def test_usage_errors_exit_2(parties: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["exchange", "import"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main(["exchange", "export", "a.csv", "--keys", "demo", "--batch", "b", "--registry", "r",
              "--issuer-key", "i", "--bureau", "b", "--out", "o", "--workers", "3",
              "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert stop.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_a_key_store_on_both_sides(parties: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issuer and bureau each open their store (here one file stands for both copies)."""
    store, _ = key_store(parties)
    capsys.readouterr()
    write_csv(parties / "applicants.csv", [person(1)])
    keys = ["--transport-key", "TRANSPORT", "--passphrase-file", "passphrase"]
    code, out = _run(
        capsys,
        *("export", "applicants.csv", "--keys", store, *keys, "--batch", "b"),
        *("--registry", "r.db", "--issuer-key", "issuer.key", "--bureau", "bureau.pub"),
        *("--out", "batch.sbkx", "--workers", "0"),
    )
    assert code == 0, out
    side = ["--bureau-key", "bureau.key", "--issuer", "issuer.pub", "--out", "w"]
    code, out = _run(capsys, "personalise", "batch.sbkx", *side, "--transport-keys", store, *keys)
    assert (code, out["counts"]) == (0, {"issued": 1, "failed": 0, "spoiled": 0})
    # the demo transport key is not the batch's: refused by KCV before any card
    code, out = _run(capsys, "personalise", "batch.sbkx", *side, "--transport-keys", "demo")
    assert code == 1 and "transport key has KCV" in str(out["error"])
