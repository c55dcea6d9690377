"""The user-card guide's examples run, and its tree listing is the declared tree."""

from __future__ import annotations

import doctest
from pathlib import Path

from sbkcard.applet_model.ssse import Layout, national_tree
from sbkcard.keys import Algorithm

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "30-user-card.rst"


def test_guide_examples() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_guide_lists_every_file_with_its_declared_rules() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    listed = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("SSSE/"):
            listed[parts[0]] = line
    tree = national_tree(Layout.V2, Algorithm.DES)
    assert set(listed) == set(tree.files())
    for path, ef in tree.files().items():
        size = f"{ef.record_length:02X}×{ef.records}" if ef.structure.fixed else f"{ef.size:X}"
        row = (
            f"{path:<17} {ef.structure.value:<16} {size:<6} {ef.read!s:<16} {ef.write!s:<8} {ef.en}"
        )
        assert listed[path].strip() == row.strip(), path
