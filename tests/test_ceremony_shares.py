"""M-of-N Shamir shares: any M re-form the key, fewer do not."""

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbkcard.keys.ceremony import (
    CeremonyError,
    CheckValueError,
    PartKind,
    combine_shares,
    generate_parts,
    reform_key,
    split_shares,
)
from sbkcard.keys.store import KeyAlgorithm, check_value
from sbkcard.keys.transcript import Transcript, verify_transcript

SHAPES = [
    (KeyAlgorithm.DES, 8, 16),
    (KeyAlgorithm.DES, 16, 16),
    (KeyAlgorithm.SM4, 16, 16),
    (KeyAlgorithm.AES, 24, 32),
    (KeyAlgorithm.AES, 32, 32),
]


def _transcript(tmp_path: Path, name: str = "t.jsonl") -> Transcript:
    return Transcript.create(tmp_path / name, ceremony="test", actor="operator")


@pytest.mark.parametrize(("algorithm", "length", "share_size"), SHAPES)
@pytest.mark.parametrize(("threshold", "count"), [(2, 3), (3, 5)])
def test_every_m_of_n_subset_reforms_the_key(
    tmp_path: Path,
    algorithm: KeyAlgorithm,
    length: int,
    share_size: int,
    threshold: int,
    count: int,
) -> None:
    transcript = _transcript(tmp_path)
    custodians = [f"c{i}" for i in range(count)]
    generated = generate_parts(
        "K", algorithm, length, custodians, transcript=transcript, operator="o", threshold=threshold
    )
    parts = generated.parts
    assert all(p.kind is PartKind.SHARE and len(p.value) == share_size for p in parts)
    assert all(p.check == check_value(bytes(p.value), algorithm) for p in parts)
    for subset in itertools.combinations(parts, threshold):
        key = reform_key(list(subset), transcript=transcript, operator="o")
        assert len(key) == length
        assert check_value(bytes(key), algorithm) == generated.kcv
    key = reform_key(parts, transcript=transcript, operator="o")
    assert check_value(bytes(key), algorithm) == generated.kcv


@pytest.mark.parametrize(("algorithm", "length", "share_size"), SHAPES)
def test_fewer_than_m_shares_do_not_reconstruct(
    tmp_path: Path, algorithm: KeyAlgorithm, length: int, share_size: int
) -> None:
    key = bytearray(range(1, length + 1))
    kcv = check_value(bytes(key), algorithm)
    shares = split_shares(key, 3, 5)
    for subset in itertools.combinations(shares, 2):
        if length % 16 == 0:
            wrong = combine_shares(list(subset), length)
            assert wrong != key
            assert check_value(bytes(wrong), algorithm) != kcv
        else:
            with pytest.raises(CheckValueError, match="fewer shares than the threshold"):
                combine_shares(list(subset), length)
    for subset in itertools.combinations(shares, 3):
        assert combine_shares(list(subset), length) == key


def test_reforming_refuses_fewer_than_m_and_records_it(tmp_path: Path) -> None:
    transcript = _transcript(tmp_path)
    generated = generate_parts(
        "K", KeyAlgorithm.SM4, 16, ["a", "b", "c"], transcript=transcript, operator="o", threshold=2
    )
    with pytest.raises(CeremonyError, match="1 shares given, 2 of 3 needed"):
        reform_key(generated.parts[:1], transcript=transcript, operator="o")
    transcript.close("o")
    steps = [e.step for e in verify_transcript(tmp_path / "t.jsonl").entries]
    assert steps[-2] == "re-forming failed"


def test_a_wrong_share_is_caught_by_its_check_value(tmp_path: Path) -> None:
    transcript = _transcript(tmp_path)
    generated = generate_parts(
        "K", KeyAlgorithm.DES, 16, ["a", "b", "c"], transcript=transcript, operator="o", threshold=2
    )
    generated.parts[1].value[9] ^= 0x80
    with pytest.raises(CheckValueError, match=r"share 2 of 3 \(b\)"):
        reform_key(generated.parts[:2], transcript=transcript, operator="o")


@settings(max_examples=25, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    threshold=st.integers(min_value=2, max_value=5),
    extra=st.integers(min_value=0, max_value=3),
    data=st.data(),
)
def test_any_m_shares_reconstruct(
    key: bytes, threshold: int, extra: int, data: st.DataObject
) -> None:
    count = threshold + extra
    shares = split_shares(bytearray(key), threshold, count)
    chosen = data.draw(st.permutations(shares))[:threshold]
    assert combine_shares(chosen, 16) == key


def test_share_bounds_and_duplicates() -> None:
    key = bytearray(16)
    with pytest.raises(CeremonyError, match="M ≤ N"):
        split_shares(key, 1, 3)
    with pytest.raises(CeremonyError, match="M ≤ N"):
        split_shares(key, 4, 3)
    shares = split_shares(key, 2, 3)
    with pytest.raises(CeremonyError, match="twice"):
        combine_shares([shares[0], shares[0]], 16)
