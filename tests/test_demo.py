"""``sbkcard demo``: the README's main job runs end to end and leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from sbkcard.cli import main


@pytest.mark.parametrize("generation", ["2", "3"])
def test_demo_runs_from_an_empty_directory(
    generation: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--profile", generation]) == 0
    out = capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # no state left where it ran
    assert "published TEST KEY" in out
    apdus = 6 if generation == "2" else 8
    assert f"the card authenticated (IRK through the PSAM): {apdus} card APDUs" in out
    assert "PIN verified" in out and "31001100" in out
    assert "MAC2 checked by the PSAM" in out
    assert "offline-settlement record written and read back" in out
    assert ">> 00 20 00 00 Lc=03 ******  ; VERIFY" in out  # the trace, PIN masked
    assert "123456" not in out
    # the pharmacy's exact national strings
    assert re.search(r"iReadCardBas → -2201 无PSAM卡", out)
    assert re.search(
        rf"^\s+410100\|410102199003071230\|A00000011\|410100D15600000500000001FFFFFFFF\|张三\|"
        rf"[0-9A-F]{{26}}\|{generation}\.00\|20240101\|20340101\|000000000000\|\|$",
        out,
        re.MULTILINE,
    )
    assert "the card's MAC2 checked by the HSM (S3 §8.3.2): right" in out
    assert "settlement check of the TAC (S3 App. C.7): right" in out
    # the loss
    assert "the pharmacy refuses it: iReadCardBas_HSM_Step1 → -21" in out
    # a terminal with the blocking policy blocks it; then the card refuses itself
    assert "application SSSE blocked, then refused" in out
    assert ">> 84 1E 00 01 Lc=04" in out and "<< 9000" in out
    assert "iReadCardBas → -37635 应用已被永久锁定、卡片锁定（card 9303，SELECT SSSE）" in out
    assert "replacement card A0000002X issued (补卡): iReadCardBas → 0" in out
    assert "hotlist now: A00000011 (replaced)" in out


def test_demo_keeps_its_files_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "kept"
    assert main(["demo", "--workdir", str(workdir), "--no-trace"]) == 0
    names = sorted(os.listdir(workdir))
    assert names == ["card.json", "hotlist.db", "psam.json", "replacement.json"]
    assert ">> 00 A4" not in capsys.readouterr().out


def test_workdir_keeps_the_images_as_the_story_left_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--workdir", str(tmp_path), "--no-trace"]) == 0
    capsys.readouterr()
    card, psam = str(tmp_path / "card.json"), str(tmp_path / "psam.json")
    # the story blocked the lost card's application: every reader now sees it blocked
    assert main(["read", "--card", card, "--psam", psam]) == 1
    assert "blocked" in capsys.readouterr().err.lower()
    assert main(["card", "show", card, "--json"]) == 0
    sections = {s["title"]: s["rows"] for s in json.loads(capsys.readouterr().out)["sections"]}
    (rows,) = [rows for title, rows in sections.items() if title.startswith("SSSE/DF04/PURSE")]
    purse = {row["field"]: row["value"] for row in rows}
    assert int(purse["balance"]) > 0 and int(purse["purchase_seq"]) > 0
