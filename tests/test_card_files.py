"""The declared tree on the card: every file exists, every access rule holds (S2 tables 3–8).

A generic walk over the declarations: for every EF of both profiles, reading and
writing is tried with nothing, with the PIN, with the rule's key and with both, and the
card must allow exactly what the declared rule allows; every data file's content goes
onto the card by UPDATE and comes back by READ byte for byte.
"""

from __future__ import annotations

import pytest
from test_card_driver import PROFILES, Driver

from sbkcard.applet_model.data_items import FILE_ITEMS, all_items
from sbkcard.applet_model.records import CONTENT_TYPES, encode_file
from sbkcard.applet_model.ssse import SSSE_AID, Layout, national_tree
from sbkcard.applet_model.tree import EF, Access, Rule, Structure
from sbkcard.applet_model.user_card import Profile
from sbkcard.applet_model.user_card.fcp import key_kid
from sbkcard.applet_model.user_card.personalise import DEMO_CARD_ID, card_atr, update_commands
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import CARD_KEYS, card_key

STATES = ((False, False), (True, False), (False, True), (True, True))


def _files(profile: Profile) -> list[tuple[str, EF]]:
    return [
        (path, ef)
        for path, ef in profile.tree.files().items()
        if ef.structure is not Structure.PURSE
    ]


def _df_name(path: str) -> str:
    parts = path.split("/")
    return parts[1] if len(parts) == 3 else "SSSE"


def _probe_key(access: Access, ef: EF) -> str:
    """The key to authenticate in the "key" states: the rule's own, else another one."""
    if access.key is not None:
        return access.key
    other = ef.write.key or ef.read.key
    return other if other is not None else "UKSSSE"


def _prepare(profile: Profile, path: str, ef: EF, access: Access, pin: bool, key: bool) -> Driver:
    d = Driver(profile)
    assert d.select_df(_df_name(path)) == 0x9000
    if pin:
        assert d.verify() == 0x9000
    if key:
        assert d.authenticate(_probe_key(access, ef)) == 0x9000
    return d


def _read(d: Driver, ef: EF) -> int:
    assert ef.sfi is not None
    if ef.structure is Structure.TRANSPARENT:
        return d.raw(bytes((0x00, 0xB0, 0x80 | ef.sfi, 0x00, 0x04)))[1]
    return d.raw(bytes((0x00, 0xB2, 0x01, ef.sfi << 3 | 0x04, 0x00)))[1]


def _write(d: Driver, ef: EF) -> int:
    assert ef.sfi is not None
    if ef.structure is Structure.TRANSPARENT:
        return d.sw(bytes((0x00, 0xD6, 0x80 | ef.sfi, 0x00, 0x01, 0x5A)))
    if ef.structure is Structure.LINEAR_VARIABLE:
        first = ef.items[0].tag if ef.items else None
        record = bytes.fromhex("61024F00") if first is None else bytes((first, 1, 0x30))
        return d.sw(bytes((0x00, 0xDC, 0x01, ef.sfi << 3 | 0x04, len(record))) + record)
    record = bytes(ef.record_length)
    mode = 0x03 if ef.structure is Structure.CYCLIC else 0x04
    return d.sw(
        bytes((0x00, 0xDC, 0x01 if mode == 4 else 0, ef.sfi << 3 | mode, len(record))) + record
    )


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"gen{p.generation}")
@pytest.mark.parametrize(("pin", "key"), STATES, ids=["none", "pin", "key", "pin+key"])
def test_every_access_rule_is_enforced(profile: Profile, pin: bool, key: bool) -> None:
    for path, ef in _files(profile):
        for access, probe in ((ef.read, _read), (ef.write, _write)):
            d = _prepare(profile, path, ef, access, pin, key)
            keys = {_probe_key(access, ef)} if key else set()
            allowed = access.allows(pin, keys)
            sw = probe(d, ef)
            assert (sw != 0x6982) == allowed, f"{path} {access} pin={pin} key={key}: {sw:04X}"
            if allowed:
                assert sw in (0x9000, 0x6A83) or sw >> 8 == 0x6C, f"{path}: {sw:04X}"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"gen{p.generation}")
def test_every_data_file_goes_onto_the_card_and_back(profile: Profile) -> None:
    for path, ef in _files(profile):
        if path not in CONTENT_TYPES or ef.write.rule is Rule.NEVER:
            continue
        content = CONTENT_TYPES[path]()
        if ef.structure is Structure.CYCLIC:
            record = CONTENT_TYPES[path].RECORD()  # type: ignore[attr-defined]
            content = CONTENT_TYPES[path]((record, record))  # type: ignore[call-arg]
        body = encode_file(path, content, profile.layout)
        d = Driver(profile)
        assert d.select_df(_df_name(path)) == 0x9000
        assert ef.write.key is not None
        assert d.authenticate(ef.write.key) == 0x9000
        for apdu in update_commands(ef, body):
            assert d.sw(apdu) == 0x9000, path
        d.verify()
        if ef.read.key is not None:
            assert d.authenticate(ef.read.key) == 0x9000
        assert d.storage.read(path) == body
        assert ef.sfi is not None
        if ef.structure is Structure.TRANSPARENT:
            back = b"".join(
                d.ok(bytes((0x00, 0xB0, off >> 8, off & 0xFF, min(0xF0, len(body) - off))))
                for off in range(0, len(body), 0xF0)
            )
        else:
            back = b""
            number = 1
            while True:
                record_bytes, sw = d.read(number, ef.sfi << 3 | 0x04)
                if sw != 0x9000:
                    assert sw == 0x6A83
                    break
                back += record_bytes
                number += 1
        assert back == body, path


def test_the_tree_matches_the_v2_notice() -> None:
    tree = national_tree(Layout.V2, Algorithm.DES)
    files = tree.files()
    assert sorted(files) == sorted(
        ["SSSE/SFI1E", "SSSE/EF05", "SSSE/EF06", "SSSE/EF07", "SSSE/EF08"]
        + [
            f"SSSE/DF01/EF{n}"
            for n in ("05", "06", "07", "08", "09", "0A", "15", "16", "17", "18", "19", "1A")
        ]
        + [f"SSSE/DF02/EF{n}" for n in ("05", "06", "07", "09", "15", "16")]
        + [f"SSSE/DF03/EF{n}" for n in ("05", "06", "07", "15", "16", "17", "18", "19")]
        + [f"SSSE/DF04/EF{n}" for n in ("05", "06", "08", "15")]
        + ["SSSE/DF04/PURSE"]
        + [f"SSSE/DF07/EF{n}" for n in ("05", "06", "07")]
    )
    assert tree.ssse.aid == SSSE_AID
    assert files["SSSE/EF05"].capacity == 0x40  # read-all of EF05, as real cards answer
    assert files["SSSE/EF06"].capacity == 0x5B
    assert files["SSSE/EF07"].size == 0x300 and files["SSSE/EF08"].size == 0x1000
    assert (files["SSSE/DF04/EF08"].record_length, files["SSSE/DF04/EF08"].records) == (0x1C, 30)
    assert (files["SSSE/DF04/EF15"].record_length, files["SSSE/DF04/EF15"].records) == (3, 8)
    assert (files["SSSE/DF02/EF07"].record_length, files["SSSE/DF02/EF16"].record_length) == (
        0x55,
        0x12,
    )
    assert (files["SSSE/DF03/EF19"].record_length, files["SSSE/DF03/EF19"].records) == (0x29, 4)
    assert str(files["SSSE/DF04/EF06"].read) == "PIN and RK1DF04"
    assert str(files["SSSE/DF03/EF05"].read) == "PIN or RK2DF03"
    assert str(national_tree(Layout.V3, Algorithm.SM4).ef("SSSE/EF06").read) == "RKSSSE"
    for path, ef in files.items():
        if ef.sfi is not None and ef.fid is not None:
            assert ef.sfi == ef.fid & 0xFF, path


def test_every_named_key_exists_and_is_on_the_card() -> None:
    names = {spec.name for spec in CARD_KEYS}
    for profile in PROFILES:
        for _, decl in profile.tree.ssse.walk():
            for access in (
                getattr(decl, "read", None),
                getattr(decl, "write", None),
                getattr(decl, "block", None),
            ):
                if access is not None and access.key is not None:
                    assert card_key(access.key).name in names
        d = Driver(profile)
        for spec in CARD_KEYS:
            home = spec.df if spec.df in ("MF", "SSSE") else f"SSSE/{spec.df}"
            assert d.storage.read(f"key:{home}/{key_kid(spec):02X}.01") is not None, spec.name
        assert card_atr(profile, DEMO_CARD_ID)[:4] == bytes.fromhex("3B6D0000")


def test_every_item_belongs_to_a_declared_file() -> None:
    files = national_tree(Layout.V2, Algorithm.DES).files()
    count = 0
    for path, it in all_items():
        assert path in files
        assert it in files[path].items or any(it in g.members for g in files[path].items)
        count += 1
    assert count == sum(
        len(items) + sum(len(i.members) for i in items) for items in FILE_ITEMS.values()
    )
    assert count > 150
