"""Status words for commands the card cannot run (Part 5 §5, the error tables of §6).

One table, one test: each row is a command with the SSSE selected, the status word the
standard requires, and the clause that requires it.  Every row is read-only and sends
no PIN or cryptogram, so the table runs on every target.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .conftest import Target


@dataclass(frozen=True)
class Case:
    """A command, the status word the standard requires, and where it says so."""

    name: str
    apdu: str
    sw: str
    clause: str


CASES = (
    Case("ins-7a", "00 7A 00 00", "6D00", "Part 5 §5.4 table 5: INS not supported"),
    Case("ins-02", "00 02 00 00 00", "6D00", "Part 5 §5.4 table 5: INS not supported"),
    Case("cla-a0-read-record", "A0 B2 01 2D 00", "6E00", "Part 5 table 33: CLA 错"),
    Case("cla-d0-select", "D0 A4 02 00 02 EF 05", "6E00", "Part 5 table 39: CLA 错"),
    Case("cla-a0-get-challenge", "A0 84 00 00 08", "6E00", "Part 5 table 18: CLA 错"),
    Case("read-record-mode-111", "00 B2 01 2F 00", "6A86", "Part 5 tables 32, 33 (111 unused)"),
    Case("select-p1-05", "00 A4 05 00 02 EF 05", "6A86", "Part 5 tables 35, 39"),
    Case("select-p2-04", "00 A4 00 04 02 EF 05", "6A86", "Part 5 tables 34, 39"),
    Case("get-challenge-p1", "00 84 01 00 08", "6A86", "Part 5 tables 17, 18"),
    Case("verify-p1", "00 20 01 00", "6A86", "Part 5 table 46 (P1 P2 = 00 00)"),
    Case("select-ef-lc3", "00 A4 02 00 03 EF 05 00", "6700", "Part 5 table 39 (Lc vs P1)"),
    Case("get-challenge-le05", "00 84 00 00 05", "6700", "Part 5 table 18 (Le 长度错)"),
    Case("get-challenge-le00", "00 84 00 00 00", "6700", "Part 5 table 18 (Le 长度错)"),
)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_status_word(target: Target, case: Case) -> None:
    """Each row of :data:`CASES`: the command answers the status word its clause requires."""
    target.select_ssse()
    assert target.sw(case.apdu) == case.sw, case.clause
