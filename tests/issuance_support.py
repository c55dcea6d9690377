"""Shared setup of the issuance tests: applicant files, an issuing line, a demo PSAM.

Everything uses the published TEST keys (``demo_keyset``, ``demo_transport_key``).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from sbkcard.applet_model.psam import psam_atr, psam_content
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.identifiers.ssn import ssn_check_char
from sbkcard.issuance.batch import IssuingLine
from sbkcard.issuance.personalise import BlankCards, Verifier, blank_card
from sbkcard.issuance.registry import Registry, SqlRegistry
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.hotlist import Hotlist

ISSUE_DATE = datetime.date(2024, 6, 3)
COLUMNS = (
    "ssn",
    "name",
    "gender",
    "ethnicity",
    "birthplace",
    "birth_date",
    "region",
    "insurance_type",
    "personnel_category",
    "action",
)


def ssn(seq: int, *, region: str = "410102", birth: str = "19810101") -> str:
    """A valid SSN (GB 11643 check character) with sequence number ``seq`` (0–999)."""
    body = f"{region}{birth}{seq:03d}"
    return body + ssn_check_char(body)


def person(seq: int, **changes: str) -> dict[str, str]:
    """An applicant record of 郑州市 with medical items; ``changes`` override fields."""
    record = {
        "ssn": ssn(seq),
        "name": f"测试{seq}号",
        "gender": "1" if seq % 2 else "2",
        "ethnicity": "01",
        "birthplace": "410102",
        "birth_date": "19810101",
        "region": "410100",
        "insurance_type": "31001100",
        "personnel_category": "11",
        "action": "new",
    }
    record.update(changes)
    return record


def write_csv(path: Path, records: Sequence[Mapping[str, str]], *, encoding: str = "utf-8") -> Path:
    """Write ``records`` as an applicant CSV with every column."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def demo_psam() -> SimulatedCard:
    """A PSAM holding the demo card keys as national roots (both environments)."""
    return SimulatedCard.create("psam", psam_content(level=3), psam_atr())


def line(
    directory: Path,
    *,
    owner: str = "line-1",
    out: str = "out",
    generation: int = 3,
    registry: Registry | None = None,
    hotlist: Hotlist | None = None,
    psam: SimulatedCard | None = None,
    blank: BlankCards = blank_card,
) -> IssuingLine:
    """An issuing line on the demo keys, its registry and hotlist in ``directory``."""
    profile = PROFILES[generation]
    keyset = demo_keyset(profile.algorithm)
    hotlist = hotlist if hotlist is not None else Hotlist(directory / "hotlist.db")
    verifier = (
        Verifier(psam=psam, hotlist=hotlist)
        if psam is not None
        else Verifier.software(keyset, hotlist=hotlist)
    )
    return IssuingLine(
        keyset=keyset,
        transport_key=demo_transport_key(profile.algorithm),
        profile=profile,
        registry=registry if registry is not None else SqlRegistry(directory / "registry.db"),
        out_dir=directory / out,
        owner=owner,
        verifier=verifier,
        hotlist=hotlist,
        issue_date=ISSUE_DATE,
        blank=blank,
    )
