"""Applicant records: every field validated, rejected by line and field, good ones kept."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.identifiers.ssn import ssn_check_char
from sbkcard.issuance.applicants import (
    Action,
    ApplicantError,
    read_applicants,
    validate_applicant,
)

HEADER = "ssn,name,gender,ethnicity,birthplace,birth_date,region,insurance_type,personnel_category"


def ssn(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + ssn_check_char(body)


GOOD = {
    "ssn": ssn("410102", "19810101", "111"),
    "name": "张三",
    "gender": "1",
    "ethnicity": "01",
    "birthplace": "410102",
    "birth_date": "19810101",
    "region": "410100",
}


def test_valid_record() -> None:
    a = validate_applicant(GOOD, 2)
    assert a.ssn == GOOD["ssn"]
    assert a.birth_date == datetime.date(1981, 1, 1)
    assert a.medical is None
    assert a.action is Action.NEW


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ssn", "410102198101011110", "check character"),
        ("ssn", "41010219810101111", "18 characters"),
        ("name", "", "missing"),
        ("name", "阿" * 26, "exceed 50"),
        ("name", "😀", "GBK"),
        ("gender", "3", "GB 2261.1"),
        ("ethnicity", "57", "GB 3304"),
        ("birthplace", "990100", "province"),
        ("birthplace", "419900x", "6 decimal digits"),
        ("birth_date", "19810230", "real date"),
        ("birth_date", "19810102", "differs from the SSN"),
        ("region", "411800", "prefecture"),
        ("action", "renew", "'new' or 'replace'"),
    ],
)
def test_bad_field_named(field: str, value: str, reason: str) -> None:
    with pytest.raises(ApplicantError) as exc:
        validate_applicant({**GOOD, field: value}, 7)
    assert exc.value.line == 7
    assert exc.value.field == field
    assert reason in exc.value.reason
    assert f"line 7, field {field}" in str(exc.value)


def test_name_with_extension_fits() -> None:
    name = "阿" * 25  # 50 GBK bytes: 30 in tag 09, 20 in the extension 4E
    assert validate_applicant({**GOOD, "name": name}, 1).name == name


def test_medical_items() -> None:
    a = validate_applicant({**GOOD, "insurance_type": "31010000", "personnel_category": "11"}, 1)
    assert a.medical is not None
    assert a.medical.insured_region == "410100"
    with pytest.raises(ApplicantError) as exc:
        validate_applicant({**GOOD, "insurance_type": "31012000", "personnel_category": "11"}, 1)
    assert exc.value.field == "insurance_type"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_keeps_good_rejects_bad_by_line(tmp_path: Path, encoding: str) -> None:
    second = ssn("410105", "19900520", "222")
    lines = [
        HEADER,
        ",".join(
            [GOOD["ssn"], "张三", "1", "01", "410102", "19810101", "410100", "31010000", "11"]
        ),
        ",".join([second, "李四", "2", "03", "410105", "19900521", "410100", "", ""]),
        ",".join([second, "李四", "2", "03", "410105", "19900520", "410100", "", ""]),
        ",".join([GOOD["ssn"], "张三", "1", "01", "410102", "19810101", "410100", "", ""]),
    ]
    path = tmp_path / "a.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    accepted, rejected = read_applicants(path)
    assert [a.line for a in accepted] == [2, 4]
    assert accepted[0].name == "张三"
    assert [(r.line, r.field) for r in rejected] == [(3, "birth_date"), (5, "ssn")]
    assert "duplicate of line 2" in rejected[1].reason


def test_json_records(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"applicants": [GOOD, {**GOOD, "gender": "x"}]}), "utf-8")
    accepted, rejected = read_applicants(path)
    assert len(accepted) == 1
    assert (rejected[0].line, rejected[0].field) == (2, "gender")


def test_missing_header_column(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("ssn,name\n", "utf-8")
    with pytest.raises(ApplicantError, match="missing columns: gender"):
        read_applicants(path)


@given(st.dictionaries(st.sampled_from([*GOOD, "action", "insurance_type"]), st.text(max_size=30)))
def test_any_record_validates_or_raises_applicant_error(raw: dict[str, str]) -> None:
    try:
        validate_applicant(raw, 1)
    except ApplicantError as exc:
        assert exc.field in {
            *GOOD,
            "action",
            "insurance_type",
            "personnel_category",
            "insured_region",
        }
