"""Applicant records: reading CSV (UTF-8 or GBK) and JSON, validating every field.

An applicant is one insured person asking for a card.  Each record is checked field by
field against the formats the card will hold (SSSE EF06, S2 §8.1.2; DF04 EF05, S2 table 7):

========================  ========================================================
column                    rule
========================  ========================================================
``ssn``                   GB 11643, check character (EF06 tag 08)
``name``                  GBK, at most 30 bytes plus the 20-byte extension (09, 4E)
``gender``                GB 2261.1: ``1`` male, ``2`` female, ``9`` unspecified (0A)
``ethnicity``             GB 3304 two-digit code 01–56, 97 or 98 (0B)
``birthplace``            GB/T 2260 region (0C)
``birth_date``            ``YYYYMMDD`` or ``YYYY-MM-DD``, a real date, equal to the SSN's (0D)
``region``                GB/T 2260 region of the issuing city
``insurance_type``        optional; an 8: scheme (3 digits) + five 0/1 flags (81)
``insured_region``        optional; region of insurance (84), defaults to ``region``
``personnel_category``    optional; cn 1, two digits (8C)
``action``                optional; ``new`` (default) or ``replace`` (补卡)
========================  ========================================================

A bad record becomes an :class:`ApplicantRejection` naming the line and the field; it
never stops the good records (:func:`read_applicants`).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sbkcard.errors import SbkcardError
from sbkcard.identifiers.errors import IdentifierError
from sbkcard.identifiers.regions import validate_region
from sbkcard.identifiers.ssn import ssn_birth_date, validate_ssn

__all__ = [
    "NAME_BYTES",
    "NAME_EXTENSION_BYTES",
    "Action",
    "Applicant",
    "ApplicantError",
    "ApplicantRejection",
    "MedicalItems",
    "read_applicants",
    "validate_applicant",
]

NAME_BYTES = 0x1E
"""EF06 tag 09: the name, an 30 (S2 table 9)."""
NAME_EXTENSION_BYTES = 0x14
"""EF06 tag 4E: the name's overflow on 2.0/3.0 cards, an 20 (S2 table 9)."""

_GENDERS = frozenset({"1", "2", "9"})
_ETHNICITIES = frozenset({f"{n:02d}" for n in range(1, 57)} | {"97", "98"})
_SCHEMES = frozenset({"310", "320", "330", "340", "350", "360", "370", "380", "390", "391"})
_REQUIRED = ("ssn", "name", "gender", "ethnicity", "birthplace", "birth_date", "region")


class Action(Enum):
    """What the applicant asks for."""

    NEW = "new"
    REPLACE = "replace"


class ApplicantError(SbkcardError, ValueError):
    """An applicant record is invalid: ``line`` and ``field`` say where, ``reason`` what."""

    def __init__(self, line: int, field: str, reason: str) -> None:
        super().__init__(f"line {line}, field {field}: {reason}")
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ApplicantRejection:
    """A record that was not accepted, with where and why."""

    line: int
    field: str
    reason: str
    ssn: str = ""

    def __str__(self) -> str:
        who = f" ({self.ssn})" if self.ssn else ""
        return f"line {self.line}{who}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class MedicalItems:
    """The DF04 EF05 items an applicant may bring (S2 table 7)."""

    insurance_type: str
    insured_region: str
    personnel_category: str


@dataclass(frozen=True)
class Applicant:
    """One validated applicant record."""

    line: int
    ssn: str
    name: str
    gender: str
    ethnicity: str
    birthplace: str
    birth_date: datetime.date
    region: str
    medical: MedicalItems | None = None
    action: Action = Action.NEW


def _text(raw: Mapping[str, object], line: int, field: str, *, required: bool) -> str:
    value = raw.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApplicantError(line, field, "missing")
        return ""
    if not isinstance(value, str | int):
        raise ApplicantError(line, field, f"expected text, got {type(value).__name__}")
    return str(value).strip()


def _date(text: str, line: int, field: str) -> datetime.date:
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ApplicantError(line, field, f"{text!r} is not YYYYMMDD")
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ApplicantError(line, field, f"{text!r} is not a real date") from None


def _name(text: str, line: int) -> str:
    try:
        size = len(text.encode("gbk"))
    except UnicodeEncodeError as exc:
        raise ApplicantError(
            line, "name", f"character {text[exc.start]!r} cannot be written in GBK"
        ) from None
    limit = NAME_BYTES + NAME_EXTENSION_BYTES
    if size > limit:
        raise ApplicantError(line, "name", f"{size} GBK bytes exceed {limit} (30 + 20 extension)")
    return text


def _region(text: str, line: int, field: str) -> str:
    try:
        return validate_region(text, field=field)
    except IdentifierError as exc:
        raise ApplicantError(line, field, exc.reason) from None


def _medical(raw: Mapping[str, object], line: int, region: str) -> MedicalItems | None:
    kind = _text(raw, line, "insurance_type", required=False)
    category = _text(raw, line, "personnel_category", required=False)
    insured = _text(raw, line, "insured_region", required=False)
    if not (kind or category or insured):
        return None
    if len(kind) != 8 or not kind.isdigit():
        raise ApplicantError(line, "insurance_type", f"{kind!r} is not 8 digits (an 8, tag 81)")
    if kind[:3] not in _SCHEMES:
        raise ApplicantError(line, "insurance_type", f"scheme {kind[:3]} is unknown")
    if set(kind[3:]) - {"0", "1"}:
        raise ApplicantError(line, "insurance_type", f"flags {kind[3:]!r} must be 0 or 1")
    if len(category) != 2 or not category.isdigit():
        raise ApplicantError(line, "personnel_category", f"{category!r} is not 2 digits (cn 1)")
    return MedicalItems(
        kind, _region(insured, line, "insured_region") if insured else region, category
    )


def validate_applicant(raw: Mapping[str, object], line: int) -> Applicant:
    """Check one raw record; raise :class:`ApplicantError` at the first bad field."""
    for field in _REQUIRED:
        _text(raw, line, field, required=True)
    ssn_text = _text(raw, line, "ssn", required=True).upper()
    try:
        ssn = validate_ssn(ssn_text)
    except IdentifierError as exc:
        raise ApplicantError(line, "ssn", exc.reason) from None
    name = _name(_text(raw, line, "name", required=True), line)
    gender = _text(raw, line, "gender", required=True)
    if gender not in _GENDERS:
        raise ApplicantError(line, "gender", f"{gender!r} is not 1, 2 or 9 (GB 2261.1)")
    ethnicity = _text(raw, line, "ethnicity", required=True).zfill(2)
    if ethnicity not in _ETHNICITIES:
        raise ApplicantError(line, "ethnicity", f"{ethnicity!r} is not a GB 3304 code")
    birthplace = _region(_text(raw, line, "birthplace", required=True), line, "birthplace")
    birth_date = _date(_text(raw, line, "birth_date", required=True), line, "birth_date")
    if birth_date != ssn_birth_date(ssn):
        raise ApplicantError(line, "birth_date", f"{birth_date} differs from the SSN's")
    if birth_date > datetime.date.today():
        raise ApplicantError(line, "birth_date", f"{birth_date} is in the future")
    region = _region(_text(raw, line, "region", required=True), line, "region")
    action_text = _text(raw, line, "action", required=False) or Action.NEW.value
    try:
        action = Action(action_text.lower())
    except ValueError:
        raise ApplicantError(line, "action", f"{action_text!r} is not 'new' or 'replace'") from None
    return Applicant(
        line=line,
        ssn=ssn,
        name=name,
        gender=gender,
        ethnicity=ethnicity,
        birthplace=birthplace,
        birth_date=birth_date,
        region=region,
        medical=_medical(raw, line, region),
        action=action,
    )


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM) first, then GBK."""
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ApplicantError(0, "file", f"{path} is neither UTF-8 nor GBK text")


def _records(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ApplicantError(0, "file", f"cannot read {path}: {exc.strerror}") from None
    text = _decode(data, path)
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApplicantError(exc.lineno, "file", f"not JSON: {exc.msg}") from None
        if isinstance(items, dict):
            items = items.get("applicants")
        if not isinstance(items, list):
            raise ApplicantError(
                1, "file", "JSON must be a list of records or {'applicants': [...]}"
            )
        for index, item in enumerate(items, start=1):
            yield index, item if isinstance(item, dict) else {}
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise ApplicantError(1, "file", "the CSV has no header line")
    missing = [f for f in _REQUIRED if f not in reader.fieldnames]
    if missing:
        raise ApplicantError(1, "header", f"missing columns: {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, row


def read_applicants(path: Path) -> tuple[list[Applicant], list[ApplicantRejection]]:
    """Read and validate every record of ``path`` (``.json`` or CSV).

    Returns the valid applicants and the rejections; an SSN seen twice in the same file
    is rejected at its second occurrence.  For a JSON list, ``line`` is the record's
    1-based position.  A file that cannot be read at all raises :class:`ApplicantError`.
    """
    accepted: list[Applicant] = []
    rejected: list[ApplicantRejection] = []
    seen: dict[str, int] = {}
    for line, raw in _records(path):
        try:
            applicant = validate_applicant(raw, line)
        except ApplicantError as exc:
            ssn = raw.get("ssn")
            rejected.append(
                ApplicantRejection(
                    exc.line, exc.field, exc.reason, ssn if isinstance(ssn, str) else ""
                )
            )
            continue
        if applicant.ssn in seen and applicant.action is Action.NEW:
            rejected.append(
                ApplicantRejection(
                    line,
                    "ssn",
                    f"duplicate of line {seen[applicant.ssn]} in this file",
                    applicant.ssn,
                )
            )
            continue
        seen.setdefault(applicant.ssn, line)
        accepted.append(applicant)
    return accepted, rejected
