"""``sbkcard psam new``: PSAM card images the simulator loads and serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbkcard.apdu.t0 import transmit_t0
from sbkcard.applet_model.psam import Psam, PublicInfo, TerminalInfo, is_secret
from sbkcard.cli import main
from sbkcard.simulator import SimulatedCard, load_image


def transmit(card: SimulatedCard, apdu: str) -> tuple[bytes, int]:
    """One command as a T=0 terminal sends it (GET RESPONSE after ``61xx``)."""
    response = transmit_t0(card.transmit, bytes.fromhex(apdu))
    return response[:-2], int.from_bytes(response[-2:])


def test_new_psam_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "psam.json"
    assert main(["psam", "new", "--out", str(image), "--terminal-number", "410100000777"]) == 0
    out = capsys.readouterr().out
    assert "410100000777" in out and "SM4/SSF33" in out and "KID-01" in out
    card = load_image(image)
    assert card.kind == "psam" and isinstance(card.applet, Psam)
    card.power_on()
    assert transmit(card, "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")[1] == 0x9000
    assert TerminalInfo.from_bytes(transmit(card, "00B0960006")[0]).terminal_number == (
        "410100000777"
    )
    assert PublicInfo.from_bytes(transmit(card, "00B095000F")[0]).serial == ("41010020240101000001")
    document = json.loads(image.read_text(encoding="utf-8"))
    cells = document["storage"]
    assert {k for k, cell in cells.items() if cell.get("secret")} == {
        k for k in cells if is_secret(k)
    }
    assert any(k.endswith("/MK") for k in cells)
    # the text does not hold the output's KCVs next to key values: keys are only in cells
    for line in out.splitlines():
        assert not any(cell["value"] in line for cell in cells.values() if cell.get("secret"))


def test_one_environment_and_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "des.json"
    args = ["psam", "new", "--out", str(image), "--algorithm", "des", "--level", "1"]
    assert main(args) == 0
    assert "SM4/SSF33        absent" in capsys.readouterr().out
    card = load_image(image)
    card.power_on()
    assert transmit(card, "00A404000F7378322E73682EC9E7BBE1B1A3D5CF00")[1] == 0x6A82
    assert transmit(card, "00A4040006D1560000059000")[1] == 0x9000
    # a level-1 PSAM holds IRK as a city root: usage 27, one factor
    assert transmit(card, "BFDE2708 10" + "00" * 16)[1] == 0x9000
    assert transmit(card, "BFDE6708 20" + "00" * 32)[1] == 0x6A80


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "psam.json"
    image.write_text("{}")
    assert main(["psam", "new", "--out", str(image)]) == 2
    assert "exists" in capsys.readouterr().err
    assert image.read_text() == "{}"
    assert main(["psam", "new", "--out", str(image), "--force", "--terminal-number", "4101"]) == 2
    assert "terminal number" in capsys.readouterr().err
    args = ["psam", "new", "--out", str(image), "--force", "--keys", "demo:SM4", "--algorithm"]
    args.append("des")
    assert main(args) == 2
    assert "DES" in capsys.readouterr().err
    assert main(["psam", "new", "--out", str(image), "--force", "--keys", "demo:SM4"]) == 0
    assert load_image(image).kind == "psam"


def test_from_a_key_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "keys.json"
    monkeypatch.setenv("SBKCARD_PASSPHRASE", "correct horse battery staple")
    args = ["keys", "new-demo", "--out", str(store), "--algorithm", "des"]
    assert main(args) == 0
    image = tmp_path / "psam.json"
    assert main(["psam", "new", "--out", str(image), "--keys", str(store)]) == 0
    out = capsys.readouterr().out
    assert "DES              55 card keys" in out and "SM4/SSF33        absent" in out
    store_image = json.loads(image.read_text(encoding="utf-8"))["storage"]
    demo = tmp_path / "demo.json"
    assert main(["psam", "new", "--out", str(demo), "--keys", "demo:DES"]) == 0
    assert json.loads(demo.read_text(encoding="utf-8"))["storage"] == store_image


def test_card_send_talks_to_a_psam_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sbkcard card send`` on a PSAM image: one session, the state saved back."""
    image = tmp_path / "psam.json"
    assert main(["psam", "new", "--out", str(image), "--algorithm", "des", "--level", "1"]) == 0
    capsys.readouterr()
    init = (  # one factor: a city-level PSAM
        "8070010024" + "C0FFEE11" + "0007" + "000004E2" + "0000012C" + "000012C0" + "32"
        "20250314092653" + "0101" + "8660410101000001"
    )
    select, read_sequence = "00A4040006D15600000590", "00B0990004"
    assert main(["card", "send", str(image), select, init, "00C0000008", read_sequence]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "610A" and lines[1] == "6108"
    assert lines[2][:8] == "00000001" and lines[2][-4:] == "9000"
    assert lines[3] == "000000019000"
    card = load_image(image)  # the terminal sequence was saved back
    card.power_on()
    assert transmit(card, select + "00")[1] == 0x9000
    assert transmit(card, read_sequence) == (bytes.fromhex("00000001"), 0x9000)


def test_blank_psam_takes_its_keys_from_a_ceremony(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, transcript = tmp_path / "blank.json", tmp_path / "t.jsonl"
    common = ["--terminal-number", "330100000001"]
    assert main(["psam", "new", "--out", str(image), "--algorithm", "des", "--blank", *common]) == 0
    assert "0 card keys" in capsys.readouterr().out
    blank = load_image(image).nvm.contents()
    loaded = main(
        ["ceremony", "load-psam", str(image), "--keys", "demo", "--algorithm", "DES",
         "--level", "1", *common, "--operator", "alice", "--transcript", str(transcript)]
    )  # fmt: skip
    assert loaded == 0
    assert main(["ceremony", "verify", str(transcript)]) == 0
    full = tmp_path / "full.json"
    assert main(["psam", "new", "--out", str(full), "--algorithm", "des", "--level", "1",
                 *common]) == 0  # fmt: skip
    loaded_cells = load_image(image).nvm.contents()
    assert len(blank) < len(loaded_cells)  # CREATE KEY refuses a key that is already there
    assert loaded_cells == load_image(full).nvm.contents()


def test_missing_applicants_file_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["issue", str(tmp_path / "none.csv"), "--keys", "demo", "--out", str(tmp_path)])
    assert code == 1
    assert "cannot read" in capsys.readouterr().err
