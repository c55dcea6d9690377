"""``sbkcard card new|send|show`` through :func:`sbkcard.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbkcard.applet_model.records import Cardholder, IssuerData, MedicalInsurance
from sbkcard.applet_model.ssse import Layout
from sbkcard.cli import main
from sbkcard.simulator import load_image
from sbkcard.simulator.image import secret_keys

SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"
GET_FCI = "00C000001E"
SELECT_DF04 = "00A4040006D15600000503"
VERIFY_WRONG = "0020000003999999"
TRIES = "00200000"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def send(capsys: pytest.CaptureFixture[str], image: Path, *apdus: str) -> list[str]:
    code, out, err = run(capsys, "card", "send", str(image), *apdus)
    assert code == 0, err
    return out.splitlines()


def read_file(image: Path, path: str) -> bytes:
    value = load_image(image).nvm.read(path)
    assert value is not None
    return value


@pytest.mark.parametrize(("profile", "algorithm"), [("2", "01"), ("3", "03")])
def test_new_makes_a_demo_card_of_the_profile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: str, algorithm: str
) -> None:
    image = tmp_path / "card.json"
    code, out, _ = run(capsys, "card", "new", "--profile", profile, "--out", str(image))
    assert code == 0
    assert "TEST KEYS" in out and "never for real cards" in out
    card = load_image(image)
    assert card.kind == ("user-card-3" if profile == "3" else "user-card")
    assert card.profile == int(profile)
    # The FCI of SPEC §1.1 with the profile's algorithm in tag 86.
    lines = send(capsys, image, SELECT_SSSE, GET_FCI)
    assert lines[0] == "611E"
    assert lines[1].endswith(f"9F0C038601{algorithm}9000")
    issuer = IssuerData.decode(read_file(image, "SSSE/EF05"))
    assert issuer.version == f"{profile}.00"
    assert issuer.card_number == "A00000011"
    assert Cardholder.decode(read_file(image, "SSSE/EF06"), issuer.layout).name == "张三"


def test_new_is_deterministic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        assert run(capsys, "card", "new", "--profile", "3", "--out", str(tmp_path / name))[0] == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_new_with_applicant_and_identifiers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    applicant = tmp_path / "applicant.json"
    applicant.write_text(
        json.dumps(
            {
                "ssn": "11010519491231002X",
                "name": "李四",
                "gender": "2",
                "ethnicity": "3",
                "birthplace": "110105",
                "birth_date": "1949-12-31",
                "insurance_type": "39100000",
                "personnel_category": "21",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    image = tmp_path / "card.json"
    argv = ["card", "new", "--profile", "2", "--out", str(image), "--applicant", str(applicant)]
    argv += ["--card-id", "110100D15600000500000042FFFFFFFF", "--card-number", "D2143569X"]
    argv += ["--issue-date", "20250102"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "李四" in out
    issuer = IssuerData.decode(read_file(image, "SSSE/EF05"), Layout.V2)
    assert issuer.card_id is not None and issuer.card_id.hex == "110100D15600000500000042FFFFFFFF"
    assert issuer.card_number == "D2143569X"
    assert str(issuer.issue_date) == "2025-01-02"
    assert str(issuer.expiry) == "2035-01-02"
    holder = Cardholder.decode(read_file(image, "SSSE/EF06"), Layout.V2)
    assert (holder.ssn, holder.name, holder.gender, holder.ethnicity) == (
        "11010519491231002X",
        "李四",
        "2",
        "03",
    )
    medical = MedicalInsurance.decode(read_file(image, "SSSE/DF04/EF05"))
    assert (medical.scheme, medical.region, medical.category) == ("39100000", "110100", "21")
    # The ATR carries the card ID's region and serial (SPEC §7).
    assert load_image(image).atr.hex().upper().endswith("110100000042")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--card-number", "D21435690"], "card"),
        (["--issue-date", "2025-01-02"], "--issue-date"),
        (["--atr", "3B6"], "--atr"),
        (["--atr", "3B" + "00" * 40], "an ATR is 2 to 33 bytes, not 41"),
        (["--keys", "demo:DES"], "profile 3 cards use SM4"),
        (["--card-id", "XYZ"], "card"),
    ],
)
def test_new_rejects_bad_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    image = tmp_path / "card.json"
    code, _, err = run(capsys, "card", "new", "--profile", "3", "--out", str(image), *extra)
    assert code == 2
    assert message in err
    assert not image.exists()


def test_new_rejects_a_bad_applicant(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    applicant = tmp_path / "a.json"
    argv = ["card", "new", "--profile", "3", "--out", str(tmp_path / "c.json")]
    record = {"ssn": "110105194912310021", "name": "王五"}
    applicant.write_text(json.dumps(record))
    code, _, err = run(capsys, *argv, "--applicant", str(applicant))
    assert code == 2
    assert "a.json: gender: missing" in err
    record |= {"gender": "1", "ethnicity": "01", "birthplace": "110105", "birth_date": "19491231"}
    applicant.write_text(json.dumps(record))  # the SSN's check character is wrong
    code, _, err = run(capsys, *argv, "--applicant", str(applicant))
    assert code == 2
    assert "a.json: ssn:" in err
    applicant.write_text("[]")
    assert run(capsys, *argv, "--applicant", str(applicant))[0] == 2
    assert not (tmp_path / "c.json").exists()


def test_new_refuses_to_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = tmp_path / "card.json"
    image.write_text("keep")
    code, _, err = run(capsys, "card", "new", "--profile", "3", "--out", str(image))
    assert code == 2 and "--force" in err
    assert image.read_text() == "keep"
    assert run(capsys, "card", "new", "--profile", "3", "--out", str(image), "--force")[0] == 0


@pytest.fixture
def card_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    image = tmp_path / "card.json"
    assert main(["card", "new", "--profile", "3", "--out", str(image)]) == 0
    capsys.readouterr()
    return image


def test_send_keeps_state_between_sessions(
    capsys: pytest.CaptureFixture[str], card_image: Path
) -> None:
    assert send(capsys, card_image, SELECT_SSSE, VERIFY_WRONG) == ["611E", "63C2"]
    # A new session (power-up) reads the saved counter.
    assert send(capsys, card_image, SELECT_SSSE, TRIES) == ["611E", "63C2"]


def test_send_dry_run_saves_nothing(capsys: pytest.CaptureFixture[str], card_image: Path) -> None:
    before = card_image.read_bytes()
    argv = ["card", "send", "--dry-run", str(card_image), SELECT_SSSE, VERIFY_WRONG]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.splitlines() == ["611E", "63C2"]
    assert card_image.read_bytes() == before


def test_send_trace_masks_the_pin(capsys: pytest.CaptureFixture[str], card_image: Path) -> None:
    code, out, _ = run(
        capsys, "card", "send", "--trace", str(card_image), SELECT_SSSE, "0020000003123456"
    )
    assert code == 0
    assert ">> 00 A4 04 00 Lc=0F 7378312E73682EC9E7BBE1B1A3D5CF  ; SELECT" in out
    assert "Lc=03 ******" in out and "123456" not in out
    assert "<< 9000" in out


def test_send_rejects_bad_hex_before_touching_the_card(
    capsys: pytest.CaptureFixture[str], card_image: Path
) -> None:
    before = card_image.read_bytes()
    code, out, err = run(capsys, "card", "send", str(card_image), SELECT_SSSE, "00A4G")
    assert code == 2 and "00A4G" in err and out == ""
    assert card_image.read_bytes() == before


def test_send_reports_a_bad_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run(capsys, "card", "send", str(bad), SELECT_SSSE)
    assert code == 1 and "bad.json" in err and "format" in err


def test_send_answers_any_bytes(capsys: pytest.CaptureFixture[str], card_image: Path) -> None:
    assert send(capsys, card_image, "00", "FF000000", "00B0") == ["6700", "6E00", "6700"]


def _secret_texts(image: Path) -> list[str]:
    card = load_image(image)
    values = [card.nvm.read(k) for k in secret_keys(card)]
    texts = []
    for value in values:
        assert value is not None
        texts += [value.hex().upper(), value.hex(), value[4:].hex().upper()]
    return [t for t in texts if len(t) >= 8]


def test_show_decodes_the_card_and_masks_secrets(
    capsys: pytest.CaptureFixture[str], card_image: Path
) -> None:
    code, out, _ = run(capsys, "card", "show", str(card_image))
    assert code == 0
    for expected in ("张三", "410102199003071230", "A00000011", "SSSE/DF04/EF05", "31001100"):
        assert expected in out
    assert "3 of 3 tries left" in out  # the PIN's state, not the PIN
    assert "RKSSSE" in out and "KCV" in out
    flat = out.replace("\n", "").replace("│", "").replace(" ", "")
    for text in _secret_texts(card_image):
        assert text not in flat
    assert "123456" not in flat  # the demo PIN


def test_show_a_psam_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = tmp_path / "psam.json"
    assert main(["psam", "new", "--out", str(image)]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "card", "show", str(image))
    assert code == 0
    assert "terminal_number=410100000001" in out and "KCV" in out
    flat = out.replace("\n", "").replace("│", "").replace(" ", "")
    for text in _secret_texts(image):
        assert text not in flat
    # card send works on PSAM images too: SELECT of the ADF, then an 8-byte challenge.
    lines = send(capsys, image, "00A4040006D15600000590", "0084000008")
    assert lines[0] == "610A"
    assert len(lines[1]) == 20 and lines[1].endswith("9000")
