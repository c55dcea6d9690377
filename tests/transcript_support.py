"""Forging transcripts, to show that only the head in the minutes catches a re-chained one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sbkcard.keys.transcript import GENESIS, Entry


def rechain(path: Path, change: Callable[[dict[str, Any]], None], hash_name: str = "SM3") -> None:
    """Edit every entry of the transcript at ``path`` with ``change``, then recompute the
    whole chain (``prev`` and ``digest``), as a forger with the file would."""
    previous = GENESIS
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        change(raw)
        raw["prev"] = previous
        entry = Entry(**{name: value for name, value in raw.items() if name != "digest"})
        raw["digest"] = previous = entry.compute_digest(hash_name)
        lines.append(json.dumps(raw, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
