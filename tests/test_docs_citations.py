"""Code, tests and docs cite the standard's own clauses, never the project's private notes.

Users have the standard (docs/sources.rst names each part and notice), not the working
summaries the project started from, so no file may point at them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("sbkcard", "docs", "benchmarks", "tests", "README.md")
SKIPPED_DIRS = {"_build", "_autosummary", "__pycache__"}
PRIVATE_NOTE = re.compile(r"SPEC\s*§|SPEC\.md|PCSC\.md")


def scanned_files() -> list[Path]:
    """Every text file of the scanned trees, without build output and this file."""
    files = []
    for name in SCANNED:
        top = ROOT / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in candidates:
            if not path.is_file() or SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
                continue
            if path.resolve() == Path(__file__).resolve():
                continue
            files.append(path)
    return files


def citations_of_private_notes(path: Path) -> list[str]:
    """``file:line: text`` for each line of ``path`` that cites a private note."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []  # binary files (images, card images) hold no citations
    found = []
    for match in PRIVATE_NOTE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}")
    return found


def test_the_scan_covers_the_sources() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in scanned_files()}
    assert "README.md" in names
    assert "docs/sources.rst" in names
    assert "sbkcard/keys/mac.py" in names
    assert "tests/conformance/standard.py" in names
    assert not any("/_build/" in name for name in names)


@pytest.mark.parametrize(
    "text",
    ["(SPEC §5.1)", "see SPEC.md", "(PCSC.md)", "tables (SPEC\n§1.1 FCI"],
)
def test_the_pattern_finds_each_form(text: str) -> None:
    assert PRIVATE_NOTE.search(text)


def test_no_file_cites_the_private_notes() -> None:
    found = [hit for path in scanned_files() for hit in citations_of_private_notes(path)]
    assert found == [], "cite the standard's clauses instead:\n" + "\n".join(found)
