"""The README's and the quick start's command tours run as written (the servers aside:
``sim``, ``serve`` and ``hsm serve`` run until stopped and have their own tests)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from sbkcard.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMMENT = re.compile(r"\s+#\s.*$")
SERVERS = ("sbkcard sim ", "sbkcard serve ", "sbkcard hsm serve ")
"""Commands that serve until stopped (covered by their own tests)."""


def _commands(text: str) -> list[str]:
    lines = [COMMENT.sub("", line.strip()) for line in text.splitlines()]
    return [
        line
        for line in lines
        if line.startswith(("sbkcard ", "printf ")) and not line.startswith(SERVERS)
    ]


def _readme() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## What you can do with it", 1)[1].split("```sh", 1)[1].split("```")[0]
    return _commands(block)


def _quickstart() -> list[str]:
    text = (ROOT / "docs" / "guide" / "01-quickstart.rst").read_text(encoding="utf-8")
    block = text.split(".. code-block:: sh", 1)[1].split("\nThe commands are", 1)[0]
    return _commands(block)


def test_the_tours_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tour = _quickstart()
    commands = tour + [c for c in _readme() if c not in tour]  # in one directory, in order
    assert len(tour) > 8 and len(commands) > len(tour)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        if command.startswith("printf "):
            assert subprocess.run(["bash", "-ec", command], check=False).returncode == 0
            continue
        words = shlex.split(command)
        target = None
        if ">" in words:
            words, target = words[: words.index(">")], words[-1]
        try:
            code = main(words[1:])
        except SystemExit as exc:  # --help
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert code == 0, f"{command}\n{err}"
        if target is not None:
            Path(target).write_text(out, encoding="utf-8")
