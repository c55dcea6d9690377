"""The README's and the quick start's command tours run as written (``sbkcard sim`` aside:
it needs pcscd and runs until stopped; :mod:`tests.test_pcsc_vpcd` covers it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMENT = re.compile(r"\s+#\s.*$")


def _commands(text: str) -> list[str]:
    lines = [COMMENT.sub("", line.strip()) for line in text.splitlines()]
    return [
        line
        for line in lines
        if line.startswith(("sbkcard ", "printf ")) and not line.startswith("sbkcard sim ")
    ]


def _readme() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## What you can do with it", 1)[1].split("```sh", 1)[1].split("```")[0]
    return _commands(block)


def _quickstart() -> list[str]:
    text = (ROOT / "docs" / "guide" / "01-quickstart.rst").read_text(encoding="utf-8")
    block = text.split(".. code-block:: sh", 1)[1].split("\nThe commands are", 1)[0]
    return _commands(block)


def test_the_tours_run(tmp_path: Path) -> None:
    tour = _quickstart()
    commands = tour + [c for c in _readme() if c not in tour]  # in one directory, in order
    assert len(tour) > 8 and len(commands) > len(tour)
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert "Traceback" not in done.stderr
