"""Ceremony transcripts: a hash chain that any edit, deletion or reordering breaks."""

import datetime
import itertools
import json
from pathlib import Path

import pytest

from sbkcard.cli import main
from sbkcard.keys import sm3
from sbkcard.keys.transcript import GENESIS, Transcript, TranscriptError, verify_transcript

START = datetime.datetime(2025, 6, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def closed(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "ceremony.jsonl"
    ticks = itertools.count(1)

    def clock() -> datetime.datetime:
        return START + datetime.timedelta(seconds=next(ticks))

    transcript = Transcript.create(path, ceremony="key generation", actor="王芳", clock=clock)
    transcript.record("key generated", "王芳", label="DES:IRK", kcv="6D7A6A", length=16)
    for index, custodian in enumerate(["张伟", "李娜", "刘洋"], 1):
        transcript.record("component issued", custodian, index=index, check=f"00000{index}")
    transcript.record("key stored", "王芳", label="DES:IRK", kcv="6D7A6A")
    return path, transcript.close("王芳")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_clean_transcript_verifies(closed: tuple[Path, str]) -> None:
    path, head = closed
    report = verify_transcript(path, head=head)
    assert report.closed and report.head == head and report.hash_name == "SM3"
    assert [e.seq for e in report.entries] == list(range(7))
    assert report.entries[0].prev == GENESIS
    first = json.loads(_lines(path)[0])
    body = {k: v for k, v in first.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first["digest"] == sm3(canonical.encode()).hex()
    assert report.entries[1].time == "2025-06-01T09:00:02.000000Z"


def test_an_edited_entry_fails(closed: tuple[Path, str]) -> None:
    path, _ = closed
    lines = _lines(path)
    lines[2] = lines[2].replace("000001", "000009")
    _write(path, lines)
    with pytest.raises(TranscriptError, match=r"line 3 .*digest does not match.*edited"):
        verify_transcript(path)


def test_an_edited_entry_with_a_recomputed_digest_breaks_the_chain(
    closed: tuple[Path, str],
) -> None:
    path, _ = closed
    lines = _lines(path)
    entry = json.loads(lines[1])
    entry["details"]["kcv"] = "FFFFFF"
    body = {k: v for k, v in entry.items() if k != "digest"}
    entry["digest"] = sm3(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hex()
    lines[1] = json.dumps(entry, ensure_ascii=False)
    _write(path, lines)
    with pytest.raises(TranscriptError, match=r"line 3 .*does not chain"):
        verify_transcript(path)


def test_a_deleted_entry_fails(closed: tuple[Path, str]) -> None:
    path, _ = closed
    lines = _lines(path)
    del lines[3]
    _write(path, lines)
    with pytest.raises(TranscriptError, match="expected seq 3"):
        verify_transcript(path)


def test_reordered_entries_fail(closed: tuple[Path, str]) -> None:
    path, _ = closed
    lines = _lines(path)
    lines[2], lines[3] = lines[3], lines[2]
    _write(path, lines)
    with pytest.raises(TranscriptError, match="line 3"):
        verify_transcript(path)


def test_a_cut_off_end_or_a_rewritten_transcript_fails(
    closed: tuple[Path, str], tmp_path: Path
) -> None:
    path, head = closed
    lines = _lines(path)
    _write(path, lines[:-1])
    with pytest.raises(TranscriptError, match="not closed"):
        verify_transcript(path)
    assert verify_transcript(path, require_closed=False).head != head
    # a forger who rewrites everything gets a valid chain, but not the head in the minutes
    forged = Transcript.create(tmp_path / "forged.jsonl", ceremony="key generation", actor="x")
    forged.close("x")
    with pytest.raises(TranscriptError, match="not the recorded head"):
        verify_transcript(tmp_path / "forged.jsonl", head=head)


def test_junk_is_reported_by_line(tmp_path: Path, closed: tuple[Path, str]) -> None:
    path, _ = closed
    lines = _lines(path)
    _write(path, [*lines[:2], "not json", *lines[2:]])
    with pytest.raises(TranscriptError, match="line 3: not a transcript entry"):
        verify_transcript(path)
    with pytest.raises(TranscriptError, match="no such transcript"):
        verify_transcript(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(TranscriptError, match="empty"):
        verify_transcript(tmp_path / "empty.jsonl")


def test_secrets_cannot_be_recorded(tmp_path: Path) -> None:
    transcript = Transcript.create(tmp_path / "t.jsonl", ceremony="c", actor="a")
    for name in ("key", "component", "share", "value", "PIN", "passphrase"):
        with pytest.raises(TranscriptError, match="never holds"):
            transcript.record("step", "a", **{name: "00"})
    with pytest.raises(TranscriptError, match="bytes never do"):
        transcript.record("step", "a", kcv=b"\x01\x02\x03")
    with pytest.raises(TranscriptError, match="never holds"):
        transcript.record("step", "a", nested={"list": [{"secret": "x"}]})
    with pytest.raises(TranscriptError, match="needs the name"):
        transcript.record("step", "", kcv="ABCDEF")
    with pytest.raises(TranscriptError, match="written by the transcript"):
        transcript.record("close", "a")


def test_resume_continues_the_chain_and_close_ends_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first = Transcript.create(path, ceremony="c", actor="a", hash_name="SHA-256")
    first.record("one", "a", n=1)
    second = Transcript.resume(path)
    second.record("two", "b", n=2)
    head = second.close("b")
    report = verify_transcript(path, head=head)
    assert [e.step for e in report.entries] == ["open", "one", "two", "close"]
    assert report.hash_name == "SHA-256"
    with pytest.raises(TranscriptError, match="closed"):
        second.record("three", "b")
    with pytest.raises(TranscriptError, match="closed"):
        Transcript.resume(path)
    with pytest.raises(TranscriptError, match="already exists"):
        Transcript.create(path, ceremony="c", actor="a")
    with pytest.raises(TranscriptError, match="chain hash"):
        Transcript.create(tmp_path / "u.jsonl", ceremony="c", actor="a", hash_name="MD5")


def test_verify_command(closed: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, head = closed
    assert main(["ceremony", "verify", str(path), "--head", head]) == 0
    out = capsys.readouterr().out
    assert "chain intact" in out and head in out and "component issued" in out
    lines = _lines(path)
    _write(path, [lines[0], *lines[2:]])
    assert main(["ceremony", "verify", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().err
