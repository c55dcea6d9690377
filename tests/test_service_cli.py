"""``sbkcard serve`` and ``sbkcard hsm serve`` as a user runs them (the acceptance lines)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from service_support import HSM_TOKEN_ENV, CliServer, free_port
from terminal_support import psam, user_card

from sbkcard.cli import main
from sbkcard.service.config import load
from sbkcard.simulator import save_image


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {"card": tmp_path / "card.json", "psam": tmp_path / "psam.json"}
    save_image(user_card(3), paths["card"])
    save_image(psam(3), paths["psam"])
    return paths


def call(port: int, function: str, body: object, origin: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json"} | ({"Origin": origin} if origin else {})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/{function}", json.dumps(body).encode(), headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def national(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sbkcard", "read", *args, "--national"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_serve_with_a_psam_answers_what_read_prints(
    images: dict[str, Path], tmp_path: Path
) -> None:
    port = free_port()
    server = CliServer(
        tmp_path / "serve.log",
        "serve",
        "--card",
        str(images["card"]),
        "--psam",
        str(images["psam"]),
        "--port",
        str(port),
    )
    try:
        status, body = call(port, "iReadCardBas", {"iType": 1})
        assert status == 200 and body["code"] == 0
        assert body["pOutInfo"] == national(
            "--card", str(images["card"]), "--psam", str(images["psam"])
        )
        status, body = call(port, "iReadCardBas", {"iType": 1}, origin="http://attacker.example")
        assert status == 403 and body["code"] != 0
    finally:
        assert server.stop() == 0


def test_serve_without_a_psam_falls_back_to_hsm_serve(
    images: dict[str, Path], tmp_path: Path
) -> None:
    hsm_port, port = free_port(), free_port()
    hsm = CliServer(
        tmp_path / "hsm.log",
        "hsm",
        "serve",
        "--keys",
        "demo",
        "--port",
        str(hsm_port),
        "--log-file",
        str(tmp_path / "hsm-audit.log"),
        env=HSM_TOKEN_ENV,
    )
    server = CliServer(
        tmp_path / "serve.log",
        "serve",
        "--card",
        str(images["card"]),
        "--hsm",
        f"http://127.0.0.1:{hsm_port}",
        "--port",
        str(port),
        env=HSM_TOKEN_ENV,
    )
    try:
        status, body = call(port, "iReadCardBas", {"iType": 1})
        assert status == 200 and body["code"] == 0, body
        with_psam = national("--card", str(images["card"]), "--psam", str(images["psam"])).split(
            "|"
        )
        fields = body["pOutInfo"].split("|")
        assert fields[9] == "000000000000"
        assert fields[:9] + fields[10:] == with_psam[:9] + with_psam[10:]
    finally:
        assert server.stop() == 0 and hsm.stop() == 0
    audit = [json.loads(line) for line in (tmp_path / "hsm-audit.log").read_text().splitlines()]
    assert [(a["operation"], a["code"]) for a in audit] == [("read_card_bas", 0)]


def test_hsm_serve_needs_its_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SBKCARD_HSM_TOKEN", raising=False)
    assert main(["hsm", "serve", "--keys", "demo"]) == 1
    assert "SBKCARD_HSM_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "args", "message"),
    [
        ("[serve]\nport = 'x'\n", [], "[serve] port: an integer expected"),
        ("[serve]\nbogus = 1\n", [], "[serve] bogus: unknown key"),
        ("[[reader]]\nname = 'a'\n", [], "give exactly one of card (an image) and pcsc"),
        ("[[reader]]\ncard = 'missing.json'\n", [], "card: no such file"),
        ("[serve]\nhost = '0.0.0.0'\n", ["--card", "CARD"], "is not loopback"),
        ("[serve]\nhost = '0.0.0.0'\nallow_remote = true\n", ["--card", "CARD"], "needs tls_cert"),
        ("[serve]\norigins = ['his.example']\n", ["--card", "CARD"], "origins: 'his.example'"),
        ("[hsm]\ntimeout = 'soon'\n", [], "[hsm] timeout: a number expected"),
        ("[serve\n", [], "not TOML"),
        ("", [], "no reader"),
    ],
)
def test_bad_configuration_names_the_key(
    toml: str,
    args: list[str],
    message: str,
    images: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(toml)
    argv = [a.replace("CARD", str(images["card"])) for a in args]
    assert main(["serve", "--config", str(config), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_configuration_file_with_two_readers(images: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(
        '[serve]\norigins = ["http://his.example"]\nlog_file = "audit.log"\n'
        '[[reader]]\nname = "left"\ncard = "card.json"\npsam = "psam.json"\n'
        '[[reader]]\nname = "right"\ncard = "card.json"\npsam = "psam.json"\n'
    )
    port = free_port()
    server = CliServer(
        tmp_path / "serve.log", "serve", "--config", str(config), "--port", str(port)
    )
    try:
        for reader in ("left", "right"):
            status, body = call(
                port, "iReadCardBas", {"iType": 1, "reader": reader}, "http://his.example"
            )
            assert status == 200 and body["code"] == 0
    finally:
        assert server.stop() == 0
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [a["reader"] for a in audit] == ["left", "right"]


def test_the_hotlist_may_be_a_file_or_a_postgresql_url(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    url = "postgresql://counter@/hotlist?host=/run/postgresql"
    config.write_text(f'[serve]\nhotlist = "{url}"\n')
    assert load(config).hotlist == url
    config.write_text('[serve]\nhotlist = "lists/hotlist.db"\n')
    assert load(config).hotlist == tmp_path / "lists" / "hotlist.db"
