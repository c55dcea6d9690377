"""Key components: generation, re-forming, check values, sealed custodian files."""

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transcript_support import rechain

from sbkcard.keys.ceremony import (
    CeremonyError,
    CheckValueError,
    KeyPart,
    PartKind,
    combine_components,
    expected_from_transcript,
    generate_parts,
    part_check_value,
    read_part,
    reform_into_store,
    reform_key,
    split_components,
    write_part,
)
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import (
    KeyAlgorithm,
    TamperedError,
    WeakPassphraseError,
    WrongPassphraseError,
    check_value,
)
from sbkcard.keys.transcript import Transcript, verify_transcript

SITE = "second site key store passphrase"
ONE = "zhang wei's own passphrase"
TWO = "wang fang's own passphrase"
CUSTODIANS = ["张伟", "王芳", "李娜"]
SHAPES = [
    (KeyAlgorithm.DES, 16),
    (KeyAlgorithm.DES, 8),
    (KeyAlgorithm.SM4, 16),
    (KeyAlgorithm.AES, 16),
]


def _transcript(tmp_path: Path, name: str = "t.jsonl") -> Transcript:
    return Transcript.create(tmp_path / name, ceremony="test", actor="operator")


def _clone(part: KeyPart, value: bytearray | None = None, check: str | None = None) -> KeyPart:
    return KeyPart(
        part.kind,
        part.key_label,
        part.algorithm,
        part.key_length,
        part.key_kcv,
        part.index,
        part.count,
        part.threshold,
        part.custodian,
        bytearray(part.value) if value is None else value,
        part.check if check is None else check,
    )


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=8, max_size=32), count=st.integers(min_value=2, max_value=7))
def test_components_xor_to_the_key(key: bytes, count: int) -> None:
    components = split_components(bytearray(key), count)
    assert len(components) == count and all(len(c) == len(key) for c in components)
    assert combine_components(components) == key
    assert combine_components(components[1:]) != key or len(key) == 0


@pytest.mark.parametrize(("algorithm", "length"), SHAPES)
@pytest.mark.parametrize("count", [2, 3, 5])
def test_components_reform_the_key(
    tmp_path: Path, algorithm: KeyAlgorithm, length: int, count: int
) -> None:
    transcript = _transcript(tmp_path)
    with SoftKeyStore.create(tmp_path / "s.json", SITE) as store:
        generated = generate_parts(
            "ROOT",
            algorithm,
            length,
            [f"custodian{i}" for i in range(count)],
            transcript=transcript,
            operator="operator",
            store=store,
            extractable=True,
        )
        assert generated.kcv == store.info("ROOT").kcv
        for part in generated.parts:
            assert part.kind is PartKind.COMPONENT and part.threshold == count
            assert part.check == check_value(bytes(part.value), algorithm)
            assert "value" not in repr(part) and part.value.hex() not in repr(part).lower()
        key = reform_key(generated.parts, transcript=transcript, operator="operator")
        with store.use("ROOT") as stored:
            assert key == stored
    transcript.close("operator")
    steps = [entry.step for entry in verify_transcript(tmp_path / "t.jsonl").entries]
    assert steps.count("component issued") == count
    assert steps.count("component accepted") == count
    assert "key re-formed" in steps


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Transcript, list[KeyPart], str]:
    transcript = _transcript(tmp_path, "generation.jsonl")
    result = generate_parts(
        "DES:IRK", KeyAlgorithm.DES, 16, CUSTODIANS, transcript=transcript, operator="operator"
    )
    transcript.close("operator")
    return transcript, result.parts, result.kcv


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("bit", [1, 37, 127])  # DES ignores bit 0 of each byte (parity)
def test_any_single_wrong_component_is_caught_by_its_kcv(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str], index: int, bit: int
) -> None:
    _, parts, _ = generated
    wrong = [_clone(p) for p in parts]
    wrong[index].value[bit // 8] ^= 1 << (bit % 8)
    transcript = _transcript(tmp_path)
    with pytest.raises(CheckValueError) as error:
        reform_key(wrong, transcript=transcript, operator="operator")
    assert f"component {index + 1} of 3 ({CUSTODIANS[index]})" in str(error.value)
    transcript.close("operator")
    report = verify_transcript(tmp_path / "t.jsonl")
    assert report.entries[-2].step == "re-forming failed"
    accepted = [e for e in report.entries if e.step == "component accepted"]
    assert len(accepted) == index, "re-forming stops at the first wrong component"


def test_substituted_component_is_caught_by_the_key_kcv_and_the_transcript(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    transcript_then, parts, _ = generated
    forged_value = bytearray(range(16))
    forged = [_clone(p) for p in parts]
    forged[1] = _clone(parts[1], forged_value, part_check_value(forged_value, KeyAlgorithm.DES))
    with pytest.raises(CheckValueError, match="re-formed DES:IRK has KCV"):
        reform_key(forged, transcript=_transcript(tmp_path), operator="operator")
    expected = expected_from_transcript(transcript_then.path, "DES:IRK", head=transcript_then.head)
    assert expected.checks == {p.index: p.check for p in parts}
    assert expected.custodians == {p.index: p.custodian for p in parts}
    with pytest.raises(CheckValueError, match="not the part that was issued"):
        reform_key(
            forged, transcript=_transcript(tmp_path, "2.jsonl"), operator="o", expected=expected
        )


def test_every_component_is_needed_once(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, kcv = generated
    with pytest.raises(CeremonyError, match=r"components \[2\] of 3 are missing"):
        reform_key([parts[0], parts[2]], transcript=_transcript(tmp_path), operator="o")
    with pytest.raises(CeremonyError, match="given twice"):
        reform_key(
            [parts[0], parts[0], parts[2]], transcript=_transcript(tmp_path, "b"), operator="o"
        )
    key = reform_key(list(reversed(parts)), transcript=_transcript(tmp_path, "c"), operator="o")
    assert check_value(bytes(key), KeyAlgorithm.DES) == kcv


def test_parts_of_two_keys_do_not_mix(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, _ = generated
    other = generate_parts(
        "DES:IRK", KeyAlgorithm.DES, 16, CUSTODIANS, transcript=_transcript(tmp_path), operator="o"
    )
    with pytest.raises(CeremonyError, match="different keys"):
        reform_key(
            [parts[0], other.parts[1], parts[2]],
            transcript=_transcript(tmp_path, "b"),
            operator="o",
        )


def test_generation_refuses_bad_custodians(tmp_path: Path) -> None:
    transcript = _transcript(tmp_path)
    with pytest.raises(CeremonyError, match="each name once"):
        generate_parts("K", KeyAlgorithm.DES, 16, ["a", "a"], transcript=transcript, operator="o")
    with pytest.raises(CeremonyError, match="2 to 255"):
        generate_parts("K", KeyAlgorithm.DES, 16, ["a"], transcript=transcript, operator="o")


def test_part_file_is_sealed_for_its_custodian(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, kcv = generated
    path = tmp_path / "part1.json"
    write_part(path, parts[0], ONE)
    text = path.read_text()
    assert (
        parts[0].value.hex() not in text.lower() and bytes(parts[0].value) not in path.read_bytes()
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(text)
    assert document["custodian"] == CUSTODIANS[0] and document["key_kcv"] == kcv
    back = read_part(path, lambda custodian: {"张伟": ONE}[custodian])
    assert back.value == parts[0].value and back.check == parts[0].check
    with pytest.raises(WrongPassphraseError):
        read_part(path, TWO)
    with pytest.raises(CeremonyError, match="never overwritten"):
        write_part(path, parts[0], ONE)
    document["custodian"] = "王芳"
    path.write_text(json.dumps(document))
    with pytest.raises(TamperedError):
        read_part(path, ONE)


def test_mistyped_part_file_fails_its_own_check(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, _ = generated
    typo = bytearray(parts[2].value)
    typo[3] ^= 0x10
    write_part(tmp_path / "p3.json", _clone(parts[2], typo), ONE)
    with pytest.raises(CheckValueError, match=r"component 3 of 3 \(李娜\) has check value"):
        read_part(tmp_path / "p3.json", ONE)


def test_reform_into_a_store_records_every_step(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    transcript_then, parts, kcv = generated
    transcript = _transcript(tmp_path)
    with SoftKeyStore.create(tmp_path / "site2.json", SITE) as store:
        info = reform_into_store(
            parts,
            store,
            transcript=transcript,
            operator="operator",
            expected=expected_from_transcript(
                transcript_then.path, "DES:IRK", head=transcript_then.head
            ),
        )
        assert info.kcv == kcv and info.label == "DES:IRK" and not info.extractable
    head = transcript.close("operator")
    report = verify_transcript(tmp_path / "t.jsonl", head=head)
    stored = [e for e in report.entries if e.step == "key stored"]
    assert stored[0].details["kcv"] == kcv


def test_a_des_parity_bit_typo_gives_an_equivalent_key(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, kcv = generated
    typo = [_clone(p) for p in parts]
    typo[0].value[0] ^= 0x01  # the parity bit: DES never reads it
    key = reform_key(typo, transcript=_transcript(tmp_path), operator="o")
    assert check_value(bytes(key), KeyAlgorithm.DES) == kcv


def test_a_rechained_generation_transcript_is_refused_by_its_head(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    transcript_then, parts, _ = generated
    head = transcript_then.head
    forged_value = bytearray(range(16))
    forged_check = part_check_value(forged_value, KeyAlgorithm.DES)

    def substitute(raw: dict[str, Any]) -> None:
        if raw["step"] == "component issued" and raw["details"]["index"] == 2:
            raw["details"]["check"] = forged_check

    rechain(transcript_then.path, substitute)
    verify_transcript(transcript_then.path)  # the chain alone is intact
    with pytest.raises(CeremonyError, match="not the recorded head"):
        expected_from_transcript(transcript_then.path, "DES:IRK", head=head)
    with pytest.raises(CeremonyError, match="give that head"):
        expected_from_transcript(transcript_then.path, "DES:IRK", head=None)
    forged = expected_from_transcript(transcript_then.path, "DES:IRK", head=_last(transcript_then))
    assert forged.checks[2] == forged_check != parts[1].check


def _last(transcript: Transcript) -> str:
    return verify_transcript(transcript.path).head


def test_a_weak_custodian_passphrase_is_refused(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, _ = generated
    for weak in (" ", "a", "1", "1111111111111111"):
        with pytest.raises(WeakPassphraseError, match="at least 12 characters"):
            write_part(tmp_path / "p.json", parts[0], weak)
    with pytest.raises(WeakPassphraseError, match="below the floor"):
        write_part(tmp_path / "p.json", parts[0], ONE, scrypt_n=2)
    assert not (tmp_path / "p.json").exists()


def test_an_altered_salt_of_a_part_file_is_tampering(
    tmp_path: Path, generated: tuple[Transcript, list[KeyPart], str]
) -> None:
    _, parts, _ = generated
    path = tmp_path / "part1.json"
    write_part(path, parts[0], ONE)
    document = json.loads(path.read_text())
    document["kdf"]["salt"] = "11" * 16
    path.write_text(json.dumps(document))
    with pytest.raises(TamperedError, match="tampering, not a wrong passphrase"):
        read_part(path, ONE)
