"""The exchanged file: round trip, and every way a file is refused (Part 10 §6.2.1, §6.3.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import parties
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbkcard.issuance.exchange.parties import ExchangeError, PartyKeys, PublicParty
from sbkcard.issuance.exchange.sealed import SealedWriter, open_sealed

PARTS = [b"first part", "第二部分".encode(), bytes(range(256)) * 40]


def _write(path: Path, kind: str = "personalisation") -> str:
    issuer, bureau, _ = parties()
    with SealedWriter(path, kind=kind, sender=issuer, recipient=bureau.public, meta={"n": 1}) as w:
        for part in PARTS:
            w.write_part(part)
        return w.finish(cards=3)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("sealed") / "file.sbkx"
    _write(path)
    return path.read_bytes()


def _open(path: Path, kind: str = "personalisation") -> list[bytes]:
    issuer, bureau, _ = parties()
    return list(open_sealed(path, kind=kind, recipient=bureau, sender=issuer.public).parts())


def test_round_trip(tmp_path: Path) -> None:
    file_id = _write(tmp_path / "f")
    issuer, bureau, _ = parties()
    opened = open_sealed(
        tmp_path / "f", kind="personalisation", recipient=bureau, sender=issuer.public
    )
    assert opened.file_id == file_id
    assert opened.meta == {"n": 1}
    assert opened.trailer == {"parts": 3, "bytes": sum(map(len, PARTS)), "cards": 3}
    assert list(opened.parts()) == PARTS
    # nothing of the parts shows in the file: it is encrypted
    assert b"first part" not in (tmp_path / "f").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_party_files_round_trip(tmp_path: Path) -> None:
    issuer, _, _ = parties()
    issuer.save(tmp_path / "i.key", "passphrase")
    issuer.public.save(tmp_path / "i.pub")
    loaded = PartyKeys.load(tmp_path / "i.key", "passphrase")
    assert loaded.name == issuer.name
    assert loaded.public.fingerprint == PublicParty.load(tmp_path / "i.pub").fingerprint
    assert b"PRIVATE KEY" not in (tmp_path / "i.pub").read_bytes()
    with pytest.raises(ExchangeError, match="wrong passphrase"):
        PartyKeys.load(tmp_path / "i.key", "wrong")
    with pytest.raises(ExchangeError, match="never overwritten"):
        issuer.save(tmp_path / "i.key", "passphrase")


def test_wrong_recipient(tmp_path: Path) -> None:
    _write(tmp_path / "f")
    issuer, _, stranger = parties()
    with pytest.raises(ExchangeError, match="wrong recipient: addressed to '制卡厂'"):
        open_sealed(
            tmp_path / "f", kind="personalisation", recipient=stranger, sender=issuer.public
        )


def test_unexpected_sender(tmp_path: Path) -> None:
    _write(tmp_path / "f")
    _, bureau, stranger = parties()
    with pytest.raises(ExchangeError, match="not by 'other'"):
        open_sealed(
            tmp_path / "f", kind="personalisation", recipient=bureau, sender=stranger.public
        )


def test_wrong_kind(tmp_path: Path) -> None:
    _write(tmp_path / "f", kind="result")
    with pytest.raises(ExchangeError, match="this is a result file, not a personalisation file"):
        _open(tmp_path / "f")


def test_not_an_exchange_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"ssn,name\n")
    with pytest.raises(ExchangeError, match="not an sbkcard exchange file"):
        _open(tmp_path / "f")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_truncated_anywhere(sealed: bytes, tmp_path: Path, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=8, max_value=len(sealed) - 1))
    path = tmp_path / f"cut{cut}"
    path.write_bytes(sealed[:cut])
    with pytest.raises(ExchangeError, match="truncated"):
        _open(path)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_tampered_anywhere(sealed: bytes, tmp_path: Path, data: st.DataObject) -> None:
    where = data.draw(st.integers(min_value=len(b"SBKXCHG1"), max_value=len(sealed) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    altered = bytearray(sealed)
    altered[where] ^= flip
    path = tmp_path / f"flip{where}"
    path.write_bytes(bytes(altered))
    with pytest.raises(ExchangeError):
        _open(path)


def test_tampered_part_names_the_signature(sealed: bytes, tmp_path: Path) -> None:
    altered = bytearray(sealed)
    altered[len(sealed) // 2] ^= 1
    (tmp_path / "f").write_bytes(bytes(altered))
    with pytest.raises(ExchangeError, match="does not verify: the file was altered"):
        _open(tmp_path / "f")


def test_bytes_after_the_signature(sealed: bytes, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(sealed + b"\0")
    with pytest.raises(ExchangeError, match="bytes follow the signature"):
        _open(tmp_path / "f")


def test_an_aborted_writer_leaves_nothing(tmp_path: Path) -> None:
    issuer, bureau, _ = parties()
    with (
        pytest.raises(RuntimeError),
        SealedWriter(
            tmp_path / "f", kind="result", sender=issuer, recipient=bureau.public, meta={}
        ) as w,
    ):
        w.write_part(b"x")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
