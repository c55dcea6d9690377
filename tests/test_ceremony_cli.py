"""The ceremony commands end to end, and a scan of everything they wrote for key bytes."""

import builtins
import getpass
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbkcard.cli import main
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.ceremony import combine_shares, read_part
from sbkcard.keys.hierarchy import Level, level_key
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store_keyset import load_keyset
from sbkcard.keys.transcript import TranscriptError, verify_transcript

REGION = "330100"
CUSTODIANS = ["zhang", "wang", "li"]


class Run:
    """Runs ``sbkcard`` commands in a directory and keeps everything they printed."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        self.printed: list[str] = []
        self.heads: dict[str, str] = {}
        """The head digest of each transcript closed, as the minutes record it."""
        (root / "pass").write_text("store passphrase\n")
        (root / "custodians").mkdir()
        for name in CUSTODIANS:
            (root / "custodians" / name).write_text(f"{name}'s own passphrase\n")

    def __call__(self, *args: str, code: int = 0) -> str:
        argv = [str(self.root / a) if a.endswith((".json", ".jsonl")) else a for a in args]
        assert main(argv) == code
        captured = self.capsys.readouterr()
        self.printed += [captured.out, captured.err]
        for path, head in re.findall(r"transcript (\S+) closed.*\n\s+([0-9a-f]{64})", captured.out):
            self.heads[Path(path).name] = head
        return captured.out

    def head(self, transcript: str, option: str) -> list[str]:
        return [option, self.heads[transcript]]

    def store(self, name: str) -> list[str]:
        return [str(self.root / name), "--passphrase-file", str(self.root / "pass")]

    def custody(self) -> list[str]:
        found = ["--custodian-passphrases", str(self.root / "custodians")]
        return found

    def custodian_secret(self, part_file: Path) -> str:
        return (self.root / "custodians" / part_file.name.split(".")[-2]).read_text().strip()

    def files(self) -> Iterator[Path]:
        return (p for p in self.root.rglob("*") if p.is_file())


def _custodians() -> list[str]:
    return [arg for name in CUSTODIANS for arg in ("--custodian", name)]


def _scan(run: Run, secrets: dict[str, bytes], *, skip: dict[str, set[str]]) -> None:
    """No secret, in hex (either case) or raw, in any output or file."""
    for what, secret in secrets.items():
        for text in run.printed:
            assert secret.hex() not in text.lower(), f"{what} printed"
        for path in run.files():
            if path.name in skip.get(what, set()):
                continue
            data = path.read_bytes()
            assert secret not in data, f"{what} in {path.name} (raw)"
            assert secret.hex().encode() not in data.lower(), f"{what} in {path.name} (hex)"


def test_a_provinces_ceremonies_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run(tmp_path, capsys)
    pw = ["--passphrase-file", str(tmp_path / "pass")]
    for store in ("province.json", "city.json", "backup.json"):
        run("keys", "new", "--out", store, *pw)

    # 1. the national roots, as components (IRK) and 2-of-3 shares (STKSSSE, 8 bytes)
    for label, length, extra in (("DES:IRK", "16", []), ("DES:STKSSSE", "8", ["--threshold", "2"])):
        out = run(
            "ceremony", "generate", "--label", label, "--algorithm", "DES", "--length", length,
            *_custodians(), *extra, "--out-dir", str(tmp_path / "parts"),
            *run.custody(), "--store", "province.json", "--extractable", *pw,
            "--operator", "operator", "--transcript", f"generate-{label[4:]}.jsonl",
        )  # fmt: skip
        assert "head digest" in out
    # 2. the transport key, 2-of-3 shares, kept by the province
    run(
        "ceremony", "generate", "--label", "KEK-330100", "--algorithm", "AES", "--length", "16",
        *_custodians(), "--threshold", "2", "--out-dir", str(tmp_path / "kek-parts"),
        *run.custody(), "--store", "province.json", *pw,
        "--operator", "operator", "--transcript", "generate-kek.jsonl",
    )  # fmt: skip
    # 3. two custodians re-form the transport key at the city
    shares = sorted((tmp_path / "kek-parts").glob("*.json"))
    out = run(
        "ceremony", "reform", str(shares[0]), str(shares[2]), "--store", *run.store("city.json"),
        "--generation-transcript", "generate-kek.jsonl", *run.custody(),
        *run.head("generate-kek.jsonl", "--generation-head"),
        "--operator", "city operator", "--transcript", "reform-kek.jsonl",
    )  # fmt: skip
    assert "KEK-330100 re-formed" in out
    # 4. the IRK re-formed from all three components into a backup store
    components = sorted((tmp_path / "parts").glob("DES_IRK.*.json"))
    run(
        "ceremony", "reform", *map(str, components), "--store", *run.store("backup.json"),
        "--generation-transcript", "generate-IRK.jsonl", *run.custody(), "--extractable",
        *run.head("generate-IRK.jsonl", "--generation-head"),
        "--operator", "operator", "--transcript", "reform-irk.jsonl",
    )  # fmt: skip
    # 5. the city's keys exported under the KEK, imported at the city
    out = run(
        "ceremony", "export", "--store", *run.store("province.json"), "--algorithm", "DES",
        "--region", REGION, "--kek", "KEK-330100", "--out", "package.json",
        "--operator", "operator", "--transcript", "export.jsonl",
    )  # fmt: skip
    assert "2 keys of 330100" in out
    run(
        "ceremony", "import", "package.json", "--store", *run.store("city.json"),
        "--kek", "KEK-330100", "--exporter-transcript", "export.jsonl", "--extractable",
        *run.head("export.jsonl", "--exporter-head"),
        "--operator", "city operator", "--transcript", "import.jsonl",
    )  # fmt: skip
    # 6. a key card for the city's issuing line
    out = run(
        "ceremony", "key-card", "--keys", *run.store("city.json"), "--algorithm", "DES",
        "--level", "1", "--terminal-number", "330100000001", "--out", "key-card.json",
        "--operator", "city operator", "--transcript", "key-card.jsonl",
    )  # fmt: skip
    assert "2 keys" in out

    # every transcript verifies, and shows the same KCVs
    for transcript in tmp_path.glob("*.jsonl"):
        assert verify_transcript(transcript, head=run.heads[transcript.name]).closed
        run("ceremony", "verify", str(transcript), "--head", run.heads[transcript.name])
    roots = load_keyset(tmp_path / "province.json", "store passphrase")
    backup = load_keyset(tmp_path / "backup.json", "store passphrase")
    assert backup.roots["IRK"] == roots.roots["IRK"]
    city_kcvs = {
        e.details["name"]: e.details["kcv"]
        for e in verify_transcript(tmp_path / "import.jsonl").entries
        if e.step == "key imported"
    }
    city_keys = {name: level_key(roots, name, REGION, Level.CITY) for name in roots.roots}
    assert city_kcvs == {
        name: kcv(key, Algorithm.DES).hex().upper() for name, key in city_keys.items()
    }
    show = run("keys", "show", *run.store("city.json"))
    assert "DES:IRK@330100" in show and "KEK-330100" in show

    # nothing anywhere holds a root, a component, a share, the KEK or a city key in clear
    secrets: dict[str, bytes] = {f"root {n}": k for n, k in roots.roots.items()}
    secrets |= {f"city {n}": k for n, k in city_keys.items()}
    for part_file in [*(tmp_path / "parts").glob("*.json"), *shares]:
        secrets[part_file.name] = bytes(read_part(part_file, run.custodian_secret(part_file)).value)
    kek_shares = [read_part(s, run.custodian_secret(s)) for s in shares[:2]]
    secrets["KEK"] = bytes(combine_shares([(p.index, p.value) for p in kek_shares], 16))
    _scan(run, secrets, skip={f"city {n}": {"key-card.json"} for n in city_keys})
    # the key card holds the city keys: it is the chip's own image
    image = (tmp_path / "key-card.json").read_text().lower()
    assert all(key.hex() in image for key in city_keys.values())


def test_show_once_then_typed_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(tmp_path, capsys)
    pw = ["--passphrase-file", str(tmp_path / "pass")]
    run("keys", "new", "--out", "site.json", *pw)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(builtins, "input", lambda prompt="": "")
    out = run(
        "ceremony", "generate", "--label", "SM4:IRK", "--algorithm", "SM4", "--length", "16",
        *_custodians(), "--show", "--operator", "operator", "--transcript", "generate.jsonl",
    )  # fmt: skip
    shown = re.findall(r"value\s+((?:[0-9A-F]{4} ?){8})", out)
    checks = re.findall(r"check value\s+([0-9A-F]{6})", out)
    assert len(shown) == 3 and len(set(shown)) == 3
    for value in shown:
        assert out.count(value) == 1, "each component is shown exactly once"
    assert "\033[2J" in out, "the screen is cleared after each custodian"
    assert out.count("\033[3J") == 3, "and the scrollback (ED 3), after each custodian"
    key = bytearray(bytes.fromhex(shown[0].replace(" ", "")))
    for value in shown[1:]:
        key = bytearray(
            a ^ b for a, b in zip(key, bytes.fromhex(value.replace(" ", "")), strict=True)
        )
    assert key.hex() not in out.lower(), "the key itself is never shown"
    # the custodians type their components back in
    answers = iter(["y", checks[0], "y", checks[1], "y", checks[2]])
    typed = iter(v.replace(" ", "") for v in shown)
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(answers))
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    out = run(
        "ceremony", "reform", "--enter", "--label", "SM4:IRK", "--store", *run.store("site.json"),
        "--generation-transcript", "generate.jsonl", "--operator", "operator",
        *run.head("generate.jsonl", "--generation-head"), "--transcript", "reform.jsonl",
    )  # fmt: skip
    generated_kcv = re.search(r"SM4:IRK: SM4 16 bytes, KCV ([0-9A-F]{6})", run.printed[-4])
    assert generated_kcv is not None and f"KCV {generated_kcv[1]}" in out
    with SoftKeyStore.open(tmp_path / "site.json", "store passphrase") as store:
        assert store.info("SM4:IRK").kcv == generated_kcv[1]
    # a typo in one component stops the ceremony at that component
    answers = iter(["y", checks[0], "y", checks[1], "y", checks[2]])
    wrong = [v.replace(" ", "") for v in shown]
    wrong[1] = wrong[1][:-1] + ("0" if wrong[1][-1] != "0" else "1")
    typed = iter(wrong)
    run(
        "ceremony", "reform", "--enter", "--label", "SM4:IRK", "--store", *run.store("site.json"),
        "--generation-transcript", "generate.jsonl", "--operator", "operator",
        *run.head("generate.jsonl", "--generation-head"), "--transcript", "reform2.jsonl",
        code=1,
    )  # fmt: skip
    assert "component 2 of 3 (wang)" in run.printed[-1]
    # the failed step closed its transcript: its head goes into the minutes too
    assert "closed after the failure" in run.printed[-2]
    failed = verify_transcript(tmp_path / "reform2.jsonl", head=run.heads["reform2.jsonl"])
    assert failed.entries[-1].details["outcome"] == "failed"
    assert "component 2 of 3 (wang)" in failed.entries[-1].details["reason"]


def test_show_refuses_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run(tmp_path, capsys)
    run(
        "ceremony", "generate", "--label", "K", "--algorithm", "AES", "--length", "16",
        *_custodians(), "--show", "--operator", "o", "--transcript", "t.jsonl", code=1,
    )  # fmt: skip
    assert "needs a terminal" in run.printed[-1]
    assert not (tmp_path / "t.jsonl").exists()


def _site_and_components(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Run, list[Path]]:
    """An empty store ``site.json`` and the three component files of a new DES:IRK."""
    run = Run(tmp_path, capsys)
    run("keys", "new", "--out", "site.json", "--passphrase-file", str(tmp_path / "pass"))
    run(
        "ceremony", "generate", "--label", "DES:IRK", "--algorithm", "DES", "--length", "16",
        *_custodians(), "--out-dir", str(tmp_path / "parts"), *run.custody(),
        "--operator", "operator", "--transcript", "generate.jsonl",
    )  # fmt: skip
    return run, sorted((tmp_path / "parts").glob("*.json"))


def test_a_failed_step_closes_its_transcript_so_the_failure_cannot_be_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cutting the failure and resuming the transcript no longer ends with the minutes' head."""
    run, parts = _site_and_components(tmp_path, capsys)
    run(
        "ceremony", "reform", str(parts[0]), str(parts[1]), "--store", *run.store("site.json"),
        *run.custody(), "--operator", "operator", "--transcript", "reform.jsonl", code=1,
    )  # fmt: skip
    assert "are missing: all are needed" in run.printed[-1]
    head = run.heads["reform.jsonl"]
    report = verify_transcript(tmp_path / "reform.jsonl", head=head)
    assert [e.step for e in report.entries][-2:] == ["re-forming failed", "close"]
    assert report.entries[-1].details["outcome"] == "failed"
    # a cheat drops the failure and the close, then resumes as if nothing had failed
    lines = (tmp_path / "reform.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "reform.jsonl").write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")
    run(
        "ceremony", "reform", *map(str, parts), "--store", *run.store("site.json"),
        *run.custody(), "--operator", "operator", "--transcript", "reform.jsonl",
    )  # fmt: skip
    with pytest.raises(TranscriptError, match="not the recorded head"):
        verify_transcript(tmp_path / "reform.jsonl", head=head)
    run("ceremony", "verify", "reform.jsonl", "--head", head, code=1)


def test_a_generation_transcript_needs_the_head_from_its_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, paths = _site_and_components(tmp_path, capsys)
    parts = [str(p) for p in paths]
    reform = [
        "ceremony", "reform", *parts, "--store", *run.store("site.json"), *run.custody(),
        "--generation-transcript", "generate.jsonl", "--operator", "o", "--transcript",
    ]  # fmt: skip
    run(*reform, "r1.jsonl", code=1)
    assert "--generation-transcript needs --generation-head DIGEST" in run.printed[-1]
    run(*reform, "r2.jsonl", "--generation-head", "ab" * 32, code=1)
    assert "not the recorded head" in run.printed[-1] and "Traceback" not in run.printed[-1]
    assert not (tmp_path / "r1.jsonl").exists() and not (tmp_path / "r2.jsonl").exists()
    run(*reform, "r3.jsonl", *run.head("generate.jsonl", "--generation-head"))


@pytest.mark.parametrize("weak", [" ", "a", "1"])
def test_a_weak_custodian_passphrase_stops_generation_before_any_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], weak: str
) -> None:
    run = Run(tmp_path, capsys)
    (tmp_path / "custodians" / "wang").write_text(weak + "\n")
    run(
        "ceremony", "generate", "--label", "DES:IRK", "--algorithm", "DES", "--length", "16",
        *_custodians(), "--out-dir", str(tmp_path / "parts"), *run.custody(),
        "--operator", "operator", "--transcript", "generate.jsonl", code=1,
    )  # fmt: skip
    assert "custodian wang: passphrase refused" in run.printed[-1]
    assert "at least 12 characters" in run.printed[-1]
    assert not (tmp_path / "generate.jsonl").exists() and not (tmp_path / "parts").exists()
