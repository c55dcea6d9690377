"""Card images: deterministic bytes, round trips, secrets marked, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_simulator_card import ATR, CONTENT, OK, make_card

from sbkcard.simulator import IMAGE_FORMAT, ImageError, SimulatedCard, load_image, save_image
from sbkcard.simulator.image import card_from_image, image_bytes, secret_keys

STORAGE_KEYS = st.text(alphabet="ABCDEF0123456789/ctrpinkey", min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(
    content=st.dictionaries(STORAGE_KEYS, st.binary(max_size=40), max_size=8),
    profile=st.one_of(st.none(), st.sampled_from([2, 3])),
)
def test_image_round_trip_is_byte_identical(content: dict[str, bytes], profile: int | None) -> None:
    card = SimulatedCard.create("toy", content, ATR, profile=profile)
    first = image_bytes(card)
    again = card_from_image(first)
    assert again.nvm.contents() == content
    assert again.atr == ATR
    assert again.profile == profile
    assert again.kind == "toy"
    assert image_bytes(again) == first


def test_save_load_save_gives_the_same_bytes(tmp_path: Path) -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.transmit(b"\x00\xd6\x00\x00\x03new")
    path = tmp_path / "card.json"
    save_image(card, path)
    data = path.read_bytes()
    loaded = load_image(path)
    assert not loaded.powered
    assert loaded.nvm.contents() == card.nvm.contents()
    save_image(loaded, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == data
    # The loaded card works: same answers as the original.
    loaded.power_on()
    loaded.transmit(b"\x00\xa4\x04\x00")
    assert loaded.transmit(b"\x00\xb0\x01\x00\x00") == b"new" + OK


def test_image_layout_is_sorted_hex_and_marks_secrets() -> None:
    document = json.loads(image_bytes(make_card()))
    assert document["format"] == IMAGE_FORMAT == "sbkcard-image/1"
    assert document["applet"] == "toy"
    assert document["atr"] == ATR.hex().upper()
    assert document["profile"] == 3
    assert list(document["storage"]) == sorted(CONTENT)
    assert document["storage"]["pin"] == {"secret": True, "value": "1234"}
    assert document["storage"]["f0"] == {"value": b"old".hex().upper()}
    text = image_bytes(make_card()).decode()
    assert text.endswith("}\n") and '  "storage": {\n' in text
    assert secret_keys(make_card()) == {"pin"}


def test_save_recovers_a_torn_card_first(tmp_path: Path) -> None:
    card = make_card()
    card.power_on()
    card.transmit(b"\x00\xa4\x04\x00")
    card.nvm.cut_power_after(5)
    with pytest.raises(Exception, match="lost power"):
        card.transmit(b"\x00\xd6\x00\x00\x03new")
    save_image(card, tmp_path / "c.json")
    assert load_image(tmp_path / "c.json").nvm.read("f2") == b"new"


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    save_image(make_card(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]  # no temporary left
    path.chmod(0o640)
    save_image(make_card(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an existing file keeps its mode


def test_save_into_a_missing_directory_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot write in"):
        save_image(make_card(), tmp_path / "nowhere" / "card.json")


def _document() -> dict[str, object]:
    return json.loads(image_bytes(make_card()))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="sbkcard-image/2"), "format 'sbkcard-image/2' is not"),
        (lambda d: d.pop("atr"), "missing field"),
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d.update(applet="nfc-tag"), "unknown applet kind 'nfc-tag'"),
        (lambda d: d.update(applet=7), "applet must be a kind name"),
        (lambda d: d.update(atr="3B"), "atr must be 2 to 33 bytes"),
        (lambda d: d.update(atr="XYZ"), "atr is not hex"),
        (lambda d: d.update(profile="3"), "profile must be an integer"),
        (lambda d: d.update(storage=[]), "storage must be an object"),
        (lambda d: d["storage"].update(f0="00"), "must be an object with a value"),
        (lambda d: d["storage"]["f0"].update(note=1), "unknown field"),
        (lambda d: d["storage"]["f0"].update(secret="yes"), "secret must be true or false"),
        (lambda d: d["storage"]["f0"].update(value="0G"), r"storage\['f0'\].value is not hex"),
    ],
)
def test_bad_images_are_rejected_with_the_reason(change, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    document = _document()
    change(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImageError, match=message) as exc:
        load_image(path)
    assert str(path) in str(exc.value)


def test_unreadable_images(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "missing.json")
    (tmp_path / "x.json").write_bytes(b"\xff{")
    with pytest.raises(ImageError, match="not a JSON card image"):
        load_image(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[1, 2]")
    with pytest.raises(ImageError, match="top level is not an object"):
        load_image(tmp_path / "y.json")
