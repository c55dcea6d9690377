"""``sbkcard read``: the table, the exact iReadCardBas string, the trace, the errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from terminal_support import CARD_ID, CARD_NUMBER, psam, user_card

from sbkcard.cli import main
from sbkcard.simulator import save_image
from sbkcard.terminal.hotlist import Hotlist


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.json" for name in ("card2", "card3", "psam")}
    save_image(user_card(2), paths["card2"])
    save_image(user_card(3), paths["card3"])
    save_image(psam(2), paths["psam"])
    return paths


def test_read_table(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--card", str(images["card3"]), "--psam", str(images["psam"])]) == 0
    out = capsys.readouterr().out
    for text in ("张三", "410102199003071230", CARD_NUMBER, CARD_ID, "3.00", "genuine"):
        assert text in out
    assert "8 card APDUs" in out


def test_read_national_string(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["read", "--card", str(images["card2"]), "--psam", str(images["psam"]), "--national"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out == (
        f"410100|410102199003071230|{CARD_NUMBER}|{CARD_ID}|张三|008153424B8660410100000001|"
        "2.00|20240101|20340101|410100000001||\n"
    )


def test_read_national_falls_back_to_the_hsm(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["read", "--card", str(images["card3"]), "--national"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "sbkcard: error: iReadCardBas returned -2201 无PSAM卡\n"
    args = ["read", "--card", str(images["card3"]), "--national", "--hsm-keys", "demo"]
    assert main(args) == 0
    assert capsys.readouterr().out.endswith("|3.00|20240101|20340101|000000000000||\n")


def test_read_trace_masks_nothing_it_should_not_show(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["read", "--card", str(images["card3"]), "--hsm-keys", "demo", "--trace"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert ">> 00 A4 04 00 Lc=0F 7378312E73682EC9E7BBE1B1A3D5CF" in out
    assert "00 82 00 0A Lc=10" in out  # RKSSSE on a 3.0 card


def test_read_without_security_module(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["read", "--card", str(images["card2"])]) == 0
    assert "not checked" in capsys.readouterr().out
    assert main(["read", "--card", str(images["card3"])]) == 2
    assert "needs RKSSSE" in capsys.readouterr().err


def test_read_refuses_a_hotlisted_card(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hotlist(tmp_path / "h.db") as hotlist:
        hotlist.report(CARD_NUMBER, CARD_ID, "lost on the bus")
    args = ["read", "--card", str(images["card2"]), "--hotlist", str(tmp_path / "h.db")]
    # refused the same way in both modes: one line on standard error, exit 1
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and "lost on the bus" in err and err.count("\n") == 1
    assert main([*args, "--psam", str(images["psam"]), "--national"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(
        "sbkcard: error: iReadCardBas returned -21 卡片已列入黑名单"
    )


def test_the_image_is_not_modified(images: dict[str, Path]) -> None:
    before = images["card3"].read_bytes()
    assert main(["read", "--card", str(images["card3"]), "--psam", str(images["psam"])]) == 0
    assert images["card3"].read_bytes() == before
