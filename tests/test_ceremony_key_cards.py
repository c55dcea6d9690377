"""Loading PSAM key files by CREATE/CHANGE KEY, and key cards (Part 9 §9.4–§9.6)."""

from pathlib import Path

import pytest

from sbkcard.applet_model.psam import AdminKeys, demo_admin_keys, psam_atr, psam_content
from sbkcard.issuance.key_cards import (
    KeyLoadError,
    load_psam_keys,
    make_key_card,
    psam_key_records,
)
from sbkcard.keys import Algorithm, sm3
from sbkcard.keys.hierarchy import KeySet, Level, demo_keyset, level_key
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import KeyAlgorithm, KeyStoreError, level_label, root_label
from sbkcard.keys.store_keyset import StoreKeySet
from sbkcard.keys.transcript import Transcript, verify_transcript
from sbkcard.simulator import SimulatedCard, load_image

TERMINAL = "330100000001"
SERIAL = "33010020250601000007"


def _transcript(tmp_path: Path, name: str = "t.jsonl") -> Transcript:
    return Transcript.create(tmp_path / name, ceremony="key card", actor="operator")


@pytest.mark.parametrize("algorithm", [Algorithm.DES, Algorithm.SM4], ids=lambda a: a.name)
@pytest.mark.parametrize("level", [Level.CITY, Level.PROVINCE, Level.NATIONAL])
def test_key_card_loaded_by_apdus_equals_direct_personalisation(
    tmp_path: Path, algorithm: Algorithm, level: Level
) -> None:
    keyset = demo_keyset(algorithm)
    admin = demo_admin_keys(algorithm)
    transcript = _transcript(tmp_path)
    card = make_key_card(
        tmp_path / "key-card.json",
        keyset,
        level=level,
        terminal_number=TERMINAL,
        serial=SERIAL,
        admin=admin,
        transcript=transcript,
        operator="operator",
    )
    direct = psam_content(
        keyset, level=level, terminal_number=TERMINAL, serial=SERIAL, admin={algorithm: admin}
    )
    image = load_image(tmp_path / "key-card.json")
    assert dict(image.snapshot().storage) == direct
    assert image.atr == card.atr == psam_atr(TERMINAL, SERIAL)
    records = psam_key_records(keyset, level=level, region=TERMINAL[:6])
    assert sorted(k.kcv for k in card.keys) == sorted(r.check_value for r in records)
    transcript.close("operator")
    entries = verify_transcript(tmp_path / "t.jsonl").entries
    loaded = [e for e in entries if e.step == "PSAM key loaded"]
    assert sorted(e.details["kcv"] for e in loaded) == sorted(r.check_value for r in records)
    assert {e.details["usage"][0] for e in loaded} == {str(level * 2)}  # b8-b6 = level
    made = next(e for e in entries if e.step == "key card made").details
    assert made["key_count"] == len(records) and made["admin_kcvs"] == admin.check_values(algorithm)


def test_key_card_from_a_store_equals_the_one_from_the_key_set(tmp_path: Path) -> None:
    demo = demo_keyset(Algorithm.DES)
    with SoftKeyStore.create(tmp_path / "s.json", "key card store passphrase") as store:
        for name, key in demo.roots.items():
            # national roots stay non-extractable: the level-1 keys are derived in the store
            store.put(root_label(Algorithm.DES, name), bytearray(key), KeyAlgorithm.DES)
        source = StoreKeySet.from_store(store, Algorithm.DES)
        admin = demo_admin_keys(Algorithm.DES)
        made = [
            make_key_card(
                tmp_path / f"{kind}.json",
                keys,
                level=Level.CITY,
                terminal_number=TERMINAL,
                serial=SERIAL,
                admin=admin,
                transcript=_transcript(tmp_path, f"{kind}.jsonl"),
                operator="operator",
            )
            for kind, keys in (("store", source), ("keyset", demo))
        ]
    assert [k.kcv for k in made[0].keys] == [k.kcv for k in made[1].keys]
    assert (
        load_image(tmp_path / "store.json").snapshot()
        == load_image(tmp_path / "keyset.json").snapshot()
    )


def test_city_keys_held_at_their_own_level_must_be_extractable(tmp_path: Path) -> None:
    demo = demo_keyset(Algorithm.DES)
    with SoftKeyStore.create(tmp_path / "s.json", "key card store passphrase") as store:
        for name in ("IRK", "RKSSSE"):
            key = bytearray(level_key(demo, name, TERMINAL[:6], Level.CITY))
            store.put(level_label(Algorithm.DES, name, TERMINAL[:6], 1), key, KeyAlgorithm.DES)
        source = StoreKeySet.from_store(store, Algorithm.DES, TERMINAL[:6])
        assert source.level is Level.CITY
        with pytest.raises(KeyStoreError, match="extractable"):
            psam_key_records(source, level=Level.CITY, region=TERMINAL[:6])
        with pytest.raises(KeyStoreError, match="cannot give level-2 keys"):
            psam_key_records(source, level=Level.PROVINCE, region=TERMINAL[:6])


def _blank_psam(cipher: Algorithm, admin: AdminKeys) -> SimulatedCard:
    content = psam_content(
        KeySet(cipher, {}), level=1, terminal_number=TERMINAL, admin={cipher: admin}
    )
    card = SimulatedCard.create("psam", content, psam_atr(TERMINAL))
    card.power_on()
    return card


def test_a_wrong_authority_key_is_refused_and_recorded(tmp_path: Path) -> None:
    admin = demo_admin_keys(Algorithm.DES)
    card = _blank_psam(Algorithm.DES, admin)
    wrong = AdminKeys(admin.master, (admin.auth[0], sm3(b"not KID-02")[:16], admin.auth[2]))
    records = psam_key_records(demo_keyset(Algorithm.DES), level=Level.CITY, region="330100")
    transcript = _transcript(tmp_path)
    with pytest.raises(KeyLoadError, match=r"EXTERNAL AUTHENTICATE KID-02.*63C2"):
        load_psam_keys(
            card,
            records,
            cipher=Algorithm.DES,
            admin=wrong,
            transcript=transcript,
            operator="operator",
        )
    entries = verify_transcript(tmp_path / "t.jsonl", require_closed=False).entries
    assert entries[-1].step == "PSAM key loading failed"
    assert entries[-1].details["loaded"] == sum(1 for e in entries if e.step == "PSAM key loaded")


def test_a_wrong_master_key_fails_the_mac(tmp_path: Path) -> None:
    admin = demo_admin_keys(Algorithm.SM4)
    card = _blank_psam(Algorithm.SM4, admin)
    records = psam_key_records(demo_keyset(Algorithm.SM4), level=Level.CITY, region="330100")
    wrong = AdminKeys(sm3(b"not the MK")[:16], admin.auth)
    with pytest.raises(KeyLoadError, match=r"CREATE KEY .*6988"):
        load_psam_keys(
            card,
            records[:1],
            cipher=Algorithm.SM4,
            admin=wrong,
            transcript=_transcript(tmp_path),
            operator="operator",
        )


def test_change_key_replaces_the_loaded_keys(tmp_path: Path) -> None:
    old = demo_keyset(Algorithm.DES)
    new = KeySet(Algorithm.DES, {name: sm3(key)[: len(key)] for name, key in old.roots.items()})
    admin = demo_admin_keys(Algorithm.DES)
    make_key_card(
        tmp_path / "psam.json",
        old,
        level=Level.CITY,
        terminal_number=TERMINAL,
        serial=SERIAL,
        admin=admin,
        transcript=_transcript(tmp_path),
        operator="operator",
    )
    card = load_image(tmp_path / "psam.json")
    card.power_on()
    load_psam_keys(
        card,
        psam_key_records(new, level=Level.CITY, region=TERMINAL[:6]),
        cipher=Algorithm.DES,
        admin=admin,
        transcript=_transcript(tmp_path, "change.jsonl"),
        operator="operator",
        change=True,
    )
    expected = psam_content(
        new, level=1, terminal_number=TERMINAL, serial=SERIAL, admin={Algorithm.DES: admin}
    )
    assert dict(card.snapshot().storage) == expected
