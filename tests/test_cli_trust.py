"""The command line under real use: no tracebacks, signals, exit codes, settings that
must exist, image values no card could hold, clear messages (issue 9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from issuance_support import person, write_csv

from sbkcard.applet_model.records import IssuerData
from sbkcard.applet_model.ssse import Layout
from sbkcard.cli import main
from sbkcard.issuance.batch import SUMMARY_NAME

SBKCARD = [sys.executable, "-m", "sbkcard"]


def sbkcard(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*SBKCARD, *args], capture_output=True, text=True, timeout=120, **kwargs
    )


@pytest.fixture
def images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    paths = {"card": tmp_path / "card.json", "psam": tmp_path / "psam.json"}
    assert main(["card", "new", "--profile", "3", "--out", str(paths["card"])]) == 0
    assert main(["psam", "new", "--level", "2", "--out", str(paths["psam"])]) == 0
    capsys.readouterr()
    return paths


def _edit(image: Path, out: Path, change: dict[str, object]) -> Path:
    document = json.loads(image.read_text(encoding="utf-8"))
    storage = change.pop("storage", {})
    assert isinstance(storage, dict)
    document["storage"].update(storage)
    document.update(change)
    out.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return out


# -- no tracebacks ------------------------------------------------------------------------


def test_card_show_on_odd_storage_keys(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = {
        "key:": {"value": "00", "secret": True},
        "key:SSSE/ZZ.01": {"value": "00", "secret": True},
        "pin:SSSE": {"value": "", "secret": True},
    }
    image = _edit(images["card"], tmp_path / "odd.json", {"storage": odd})
    assert main(["card", "show", str(image)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert main(["card", "show", str(image), "--json"]) == 0
    sections = {s["title"]: s["rows"] for s in json.loads(capsys.readouterr().out)["sections"]}
    bad = [row for row in sections["Keys"] if row["KID"] in ("", "ZZ")]
    assert [row["role"] for row in bad] == ["bad: not DF/KID.version"] * 2
    assert any("of ? tries left" in row["state"] for row in sections["Security state"])


def test_issue_out_naming_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(1)])
    out = tmp_path / "out"
    out.write_text("a file")
    assert main(["issue", str(applicants), "--keys", "demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sbkcard: error: --out") and "not a directory" in err
    assert err.count("\n") == 1


def test_unexpected_error_is_one_line_unless_debugging(tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text("a passphrase\n")
    argv = [
        "keys",
        "new",
        "--out",
        str(tmp_path / "no" / "store"),
        "--passphrase-file",
        str(secret),
    ]
    done = sbkcard(*argv)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "--debug" in done.stderr
    debug = sbkcard("--debug", *argv)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    env = os.environ | {"SBKCARD_DEBUG": "1"}
    assert "Traceback" in sbkcard(*argv, env=env).stderr


def test_broken_pipe_is_quiet(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    custodians = tmp_path / "custodians"
    custodians.mkdir()
    for name in ("a", "b"):
        (custodians / name).write_text(f"{name}'s passphrase\n")
    transcript = tmp_path / "t.jsonl"
    generate = ["ceremony", "generate", "--label", "K", "--algorithm", "AES", "--length", "16"]
    generate += ["--custodian", "a", "--custodian", "b", "--out-dir", str(tmp_path / "parts")]
    generate += ["--custodian-passphrases", str(custodians)]
    assert main([*generate, "--operator", "o", "--transcript", str(transcript)]) == 0
    capsys.readouterr()
    assert main(["ceremony", "verify", str(transcript), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state"] == "closed" and len(report["head"]) == 64
    # the reader is gone before the first line is written: every write is EPIPE
    for argv in (["ceremony", "verify", str(transcript)], ["card", "show", str(images["card"])]):
        proc = subprocess.Popen([*SBKCARD, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        # 141 (128 + SIGPIPE) from the guard; rich's tables stop with 1 on their own
        assert proc.wait(timeout=60) == (141 if argv[0] == "ceremony" else 1)
        assert err == "", err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_issue_stops_cleanly(tmp_path: Path, signum: int) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(n) for n in range(1, 81)])
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*SBKCARD, "issue", str(applicants), "--keys", "demo", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0], stderr
    assert "summary" in lines[0]
    summary = json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert summary["counts"]["issued"] < 80  # stopped part-way, what was done recorded
    # the same command again finishes the batch
    done = sbkcard("issue", str(applicants), "--keys", "demo", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)["counts"]
    assert counts["issued"] + counts["already issued"] == 80


def test_the_cli_imports_without_fcntl(images: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoFcntl:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'fcntl':\n"
        "            raise ImportError('no fcntl on this system')\n"
        "sys.meta_path.insert(0, _NoFcntl())\n"
        "sys.modules.pop('fcntl', None)\n"
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    probe = subprocess.run(
        [sys.executable, "-c", "import fcntl"], capture_output=True, text=True, env=env
    )
    assert probe.returncode == 1 and "no fcntl" in probe.stderr
    read = sbkcard(
        "read", "--card", str(images["card"]), "--psam", str(images["psam"]), "--json", env=env
    )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["holder"]["name"] == "张三"
    assert sbkcard("--help", env=env).returncode == 0
    imported = subprocess.run(
        [sys.executable, "-c", "import sbkcard.issuance.batch"], capture_output=True, env=env
    )
    assert imported.returncode == 0


# -- settings that silently do the wrong thing -----------------------------------------------


def test_read_refuses_a_hotlist_that_does_not_exist(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    args = ["read", "--card", str(images["card"]), "--psam", str(images["psam"])]
    assert main([*args, "--hotlist", str(missing)]) == 1
    assert "no such hotlist" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["hotlist", "new", str(missing)]) == 0
    assert main([*args, "--hotlist", str(missing)]) == 0


def test_issue_refuses_a_named_hotlist_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(1)])
    out, hotlist = tmp_path / "out", tmp_path / "typo.db"
    argv = ["issue", str(applicants), "--keys", "demo", "--out", str(out)]
    assert main([*argv, "--hotlist", str(hotlist)]) == 1
    assert "no such hotlist" in capsys.readouterr().err
    assert not hotlist.exists() and not out.exists()
    assert main(["hotlist", "new", str(hotlist)]) == 0
    assert main([*argv, "--hotlist", str(hotlist)]) == 0


@pytest.mark.parametrize("content", ["", "name,ssn\n", "ssn,name\n110105194912310021,王\n"])
def test_a_failed_issue_leaves_no_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    applicants = tmp_path / "a.csv"
    applicants.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["issue", str(applicants), "--keys", "demo", "--out", str(out)]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()


def test_every_record_rejected_is_not_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applicants = write_csv(tmp_path / "a.csv", [person(1, gender="7"), person(2, gender="8")])
    argv = ["issue", str(applicants), "--keys", "demo", "--out", str(tmp_path / "out"), "--json"]
    assert main(argv) == 1
    assert json.loads(capsys.readouterr().out)["counts"]["rejected"] == 2


# -- values the loader accepted but no card could hold -----------------------------------------


def test_the_loader_refuses_impossible_values(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = json.loads(images["card"].read_text(encoding="utf-8"))
    issuer = IssuerData.decode(bytes.fromhex(card["storage"]["SSSE/EF05"]["value"]), Layout.V3)
    backwards = IssuerData(
        issuer.card_id, issuer.card_type, issuer.version, issuer.init_org,
        issuer.expiry, issuer.issue_date, issuer.card_number,
    )  # fmt: skip
    body = backwards.encode(Layout.V3).hex().upper()
    cases: list[tuple[Path, dict[str, object], str]] = [
        (images["card"], {"storage": {"SSSE/DF04/PURSE": {"value": "00"}}}, "purse"),
        (images["card"], {"profile": 9}, "profile 9"),
        (images["card"], {"storage": {"SSSE/EF05": {"value": body}}}, "expiry"),
        (images["psam"], {"atr": "3B6D000000814A44468660330100000001"}, "terminal number"),
    ]
    for number, (image, change, field) in enumerate(cases):
        bad = _edit(image, tmp_path / f"bad{number}.json", change)
        for argv in (["card", "show", str(bad)], ["read", "--card", str(bad)]):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert field in err and str(bad) in err, err


def test_card_new_refuses_an_expiry_before_the_issue_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "card.json"
    argv = ["card", "new", "--profile", "2", "--out", str(out), "--issue-date", "20240101"]
    assert main([*argv, "--expiry", "20231231"]) == 2
    assert "--expiry 20231231" in capsys.readouterr().err and not out.exists()


# -- error messages that point the right way ---------------------------------------------------


def test_messages_name_the_real_problem(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.json")
    new = ["card", "new", "--profile", "3", "--out", str(tmp_path / "c.json")]
    assert main([*new, "--keys", missing]) == 1
    assert "no such key store" in capsys.readouterr().err
    assert main(["card", "send", str(images["card"]), "00A4G0"]) == 2
    assert "'G' (character 5) is not hex" in capsys.readouterr().err
    assert main(["card", "send", str(images["card"]), "00A"]) == 2
    assert "3 hex digits" in capsys.readouterr().err
    # read takes the --passphrase-file its message asks for
    secret = tmp_path / "pass"
    secret.write_text("store passphrase\n")
    store = tmp_path / "store.json"
    keys = ["keys", "new-demo", "--out", str(store)]
    assert main([*keys, "--passphrase-file", str(secret)]) == 0
    capsys.readouterr()
    read = ["read", "--card", str(images["card"]), "--hsm-keys", str(store), "--json"]
    assert main(read) == 1
    assert "--passphrase-file" in capsys.readouterr().err
    assert main([*read, "--passphrase-file", str(secret)]) == 0
    assert json.loads(capsys.readouterr().out)["genuine"] is True


# -- the counter's operations from the shell -----------------------------------------------


def test_counter_operations(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card, psam = str(images["card"]), str(images["psam"])
    pins = tmp_path / "pin"
    pins.write_text("123456\n")
    with_pin = ["--card", card, "--pin-file", str(pins), "--json"]

    def run(*argv: str, code: int = 0) -> dict[str, object]:
        assert main(list(argv)) == code
        out, err = capsys.readouterr()
        assert "123456" not in out + err
        document: dict[str, object] = json.loads(out) if code == 0 else {"error": err}
        return document

    assert run("pin", "verify", *with_pin, "--psam", psam)["operation"] == "verify"
    assert (
        run("purse", "load", *with_pin, "--hsm-keys", "demo", "--amount", "500")["balance_after"]
        == 50_000
    )
    paid = run("purse", "purchase", *with_pin, "--psam", psam, "--amount", "1.50")
    assert paid["account"] == 150 and len(str(paid["tac"])) == 8
    assert run("purse", "balance", *with_pin)["account"] == 49_850
    records = run("purse", "records", *with_pin)
    assert isinstance(records, list) and [r["account"] for r in records] == [150, 50_000]
    proof = run("purse", "proof", *with_pin, "--type", "purchase", "--seq", str(paid["card_seq"]))
    assert proof["tac"] == paid["tac"]
    # a wrong PIN from standard input; then the tries left; unblock restores them
    pins.write_text("000000\n")
    assert "wrong PIN" in str(run("pin", "verify", *with_pin, code=1)["error"])
    assert run("pin", "tries", *with_pin)["tries_left"] == 2
    assert run("pin", "unblock", *with_pin, "--psam", psam)["tries_left"] == 3
    pins.write_text("123456\n654321\n654321\n")
    assert run("pin", "change", *with_pin)["operation"] == "change"
    # no PIN pad and no --pin-file: a usage error, not a hang
    assert main(["pin", "verify", "--card", card]) == 2
    assert "--pin-file" in capsys.readouterr().err


def test_hotlist_commands(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "h.db")
    assert (
        main(["read", "--card", str(images["card"]), "--psam", str(images["psam"]), "--json"]) == 0
    )
    issuer = json.loads(capsys.readouterr().out)["issuer"]
    number, card_id = issuer["card_number"], issuer["card_id"]
    assert main(["hotlist", "report", "--hotlist", db, number, "--card-id", card_id]) == 1
    assert "no such hotlist" in capsys.readouterr().err
    assert main(["hotlist", "new", db]) == 0
    assert main(["hotlist", "report", "--hotlist", db, number, "--card-id", card_id]) == 0
    capsys.readouterr()
    assert main(["hotlist", "list", "--hotlist", db, "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["card_number"], e["kind"]) for e in entries] == [(number, "lost")]
    read = ["read", "--card", str(images["card"]), "--psam", str(images["psam"]), "--hotlist", db]
    assert main(read) == 1
    capsys.readouterr()
    assert main(["hotlist", "lift", "--hotlist", db, number, "--card-id", card_id]) == 0
    assert main(read) == 0


def test_json_for_scripts(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "pass"
    secret.write_text("store passphrase\n")
    store = str(tmp_path / "store.json")
    assert (
        main(
            [
                "keys",
                "new-demo",
                "--out",
                store,
                "--passphrase-file",
                str(secret),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["keys", "show", store, "--passphrase-file", str(secret), "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)["keys"]
    assert {"DES", "SM4"} <= {k["algorithm"] for k in keys} and all("kcv" in k for k in keys)
    trace = tmp_path / "t.trace"
    argv = ["card", "send", "--trace", "--dry-run", str(images["card"])]
    assert main([*argv, "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"]) == 0
    trace.write_text(capsys.readouterr().out)
    assert main(["trace", "decode", str(trace), "--json"]) == 0
    (decoded,) = json.loads(capsys.readouterr().out)
    assert decoded["name"] == "SELECT" and decoded["device"] == "card"
