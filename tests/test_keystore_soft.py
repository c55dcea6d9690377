"""The software key store: round trip, wrong passphrase, tampering, use inside the store."""

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sbkcard.keys import Algorithm, diversify, kcv
from sbkcard.keys.hierarchy import demo_keyset
from sbkcard.keys.sealing import ScryptParams, Sealer, header_digest
from sbkcard.keys.soft_store import SoftKeyStore, generation_path
from sbkcard.keys.store import (
    KeyAlgorithm,
    KeyStore,
    KeyStoreError,
    RollbackError,
    TamperedError,
    UnsupportedKeyError,
    WeakPassphraseError,
    WrongPassphraseError,
    check_value,
    parse_label,
)

PASS = "correct horse battery staple"
CITY = "city of hangzhou, second site"
K16 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
K8 = bytes.fromhex("0123456789ABCDEF")
F = [b"330000sh", b"330100sx", bytes.fromhex("8660330100000001")]


@pytest.fixture(scope="module")
def made_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("made") / "store.json"
    with SoftKeyStore.create(path, PASS) as store:
        store.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES, extractable=True)
        store.put("DES:STKSSSE", bytearray(K8), KeyAlgorithm.DES)
        store.put("SM4:IRK", bytearray(K16), KeyAlgorithm.SM4)
        store.generate("KEK-330100", KeyAlgorithm.AES, 16)
    return path


@pytest.fixture
def store_path(made_store: Path, tmp_path: Path) -> Path:
    """A copy of the store, with its generation file, for one test to change."""
    path = tmp_path / "store.json"
    for source in (made_store, generation_path(made_store)):
        shutil.copy2(source, tmp_path / source.name)
    return path


def test_round_trip_lists_labels_and_kcvs(store_path: Path) -> None:
    with SoftKeyStore.open(store_path, PASS) as store:
        assert isinstance(store, KeyStore)
        infos = {info.label: info for info in store.list_keys()}
        assert sorted(infos) == ["DES:IRK", "DES:STKSSSE", "KEK-330100", "SM4:IRK"]
        assert infos["DES:IRK"].kcv == kcv(K16, Algorithm.DES).hex().upper() == "08D7B4"
        assert infos["DES:STKSSSE"].kcv == "D5D44F"  # DES of zeros under 0123456789ABCDEF
        assert infos["SM4:IRK"].kcv == kcv(K16, Algorithm.SM4).hex().upper()
        assert infos["DES:STKSSSE"].length == 8
        assert not infos["KEK-330100"].extractable
        with store.use("DES:IRK") as key:
            assert key == K16
            held = key
        assert held == bytearray(16), "the buffer is wiped after use"


def test_file_shows_kcvs_never_keys(store_path: Path) -> None:
    text = store_path.read_text()
    document = json.loads(text)
    assert document["format"] == "sbkcard-keystore" and document["version"] == 2
    assert document["kdf"]["name"] == "scrypt" and document["aead"] == "AES-256-GCM"
    assert {entry["kcv"] for entry in document["keys"]} >= {"08D7B4", "D5D44F"}
    raw = store_path.read_bytes()
    for key in (K16, K8):
        assert key.hex() not in text.lower() and key not in raw
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600


def test_wrong_passphrase_is_named(store_path: Path) -> None:
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        SoftKeyStore.open(store_path, "Correct horse battery staple")


Edit = Callable[[dict[str, Any]], None]


def _edit(path: Path, change: Edit) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _set_kcv(document: dict[str, Any]) -> None:
    document["keys"][0]["kcv"] = "000000"


def _flip_ciphertext(document: dict[str, Any]) -> None:
    sealed = document["keys"][1]["sealed"]
    value = bytearray.fromhex(sealed["ciphertext"])
    value[0] ^= 1
    sealed["ciphertext"] = value.hex()


def _drop_key(document: dict[str, Any]) -> None:
    del document["keys"][2]


def _swap_sealed(document: dict[str, Any]) -> None:
    keys = document["keys"]
    keys[0]["sealed"], keys[2]["sealed"] = keys[2]["sealed"], keys[0]["sealed"]


def _rename(document: dict[str, Any]) -> None:
    document["keys"][0]["label"] = "DES:PUK"


def _make_extractable(document: dict[str, Any]) -> None:
    document["keys"][1]["extractable"] = True


@pytest.mark.parametrize(
    "change", [_set_kcv, _flip_ciphertext, _drop_key, _swap_sealed, _rename, _make_extractable]
)
def test_tampering_is_detected(store_path: Path, change: Edit) -> None:
    _edit(store_path, change)
    with pytest.raises(TamperedError, match="altered"):
        SoftKeyStore.open(store_path, PASS)


def _lower_cost(document: dict[str, Any]) -> None:
    document["kdf"]["n"] = 2**4


def _new_salt(document: dict[str, Any]) -> None:
    document["kdf"]["salt"] = "00" * 16


def _edit_check(document: dict[str, Any]) -> None:
    check = bytearray.fromhex(document["check"]["ciphertext"])
    check[0] ^= 1
    document["check"]["ciphertext"] = check.hex()


@pytest.mark.parametrize("change", [_lower_cost, _new_salt, _edit_check])
def test_altered_kdf_parameters_are_tampering_not_a_wrong_passphrase(
    store_path: Path, change: Edit
) -> None:
    _edit(store_path, change)
    with pytest.raises(TamperedError, match=r"KDF parameters .* altered"):
        SoftKeyStore.open(store_path, PASS)


def test_a_new_salt_with_its_digest_recomputed_is_caught_by_the_generation_file(
    store_path: Path,
) -> None:
    def forge(document: dict[str, Any]) -> None:
        _new_salt(document)
        params = ScryptParams.from_json(document["kdf"], where="test")
        document["kdf_digest"] = header_digest(params, document["check"])

    _edit(store_path, forge)
    with pytest.raises(TamperedError, match="salt is not the one recorded"):
        SoftKeyStore.open(store_path, PASS)


def test_unknown_version_and_format(store_path: Path, tmp_path: Path) -> None:
    def bump(document: dict[str, Any]) -> None:
        document["version"] = 9

    _edit(store_path, bump)
    with pytest.raises(KeyStoreError, match="version 9 is not supported"):
        SoftKeyStore.open(store_path, PASS)
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(KeyStoreError, match="not an sbkcard key store"):
        SoftKeyStore.open(other, PASS)
    with pytest.raises(KeyStoreError, match="no such key store"):
        SoftKeyStore.open(tmp_path / "missing.json", PASS)
    with pytest.raises(KeyStoreError, match="already exists"):
        SoftKeyStore.create(store_path, PASS)


@pytest.mark.parametrize(("label", "key"), [("DES:IRK", K16), ("DES:STKSSSE", K8)])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_diversify_inside_equals_the_library(
    store_path: Path, label: str, key: bytes, levels: int
) -> None:
    with SoftKeyStore.open(store_path, PASS) as store:
        child = store.diversify(label, F[:levels])
        assert child == diversify(key, F[:levels], Algorithm.DES)
        assert len(child) == len(key)


def test_sm4_diversify_and_derive(store_path: Path) -> None:
    with SoftKeyStore.open(store_path, PASS) as store:
        assert store.diversify("SM4:IRK", F) == diversify(K16, F, Algorithm.SM4)
        info = store.derive("SM4:IRK", F[:2], "SM4:IRK@330100")
        assert info.kcv == kcv(diversify(K16, F[:2], Algorithm.SM4), Algorithm.SM4).hex().upper()
        parsed = parse_label(info.label)
        assert parsed is not None and parsed.level == 1 and parsed.region == "330100"
    with SoftKeyStore.open(store_path, PASS) as store:
        assert "SM4:IRK@330100" in store


def test_non_extractable_keys_stay_inside(store_path: Path) -> None:
    with SoftKeyStore.open(store_path, PASS) as store:
        with pytest.raises(UnsupportedKeyError, match="not extractable"), store.use("SM4:IRK"):
            pass
        with pytest.raises(KeyStoreError, match="at least one factor"):
            store.diversify("SM4:IRK", [])
        with pytest.raises(KeyStoreError, match="not extractable"):
            store.wrap("SM4:IRK", "KEK-330100")


def test_wrap_and_unwrap_between_stores(store_path: Path, tmp_path: Path) -> None:
    kek = bytes(range(100, 116))  # both sides hold the KEK (a ceremony re-forms it there)
    with (
        SoftKeyStore.open(store_path, PASS) as store,
        SoftKeyStore.create(tmp_path / "city.json", CITY) as city,
    ):
        city.put("KEK", bytearray(kek), KeyAlgorithm.AES)
        store.put("KEK", bytearray(kek), KeyAlgorithm.AES)
        for label, key in (("DES:IRK", K16), ("DES:STKSSSE", K8)):
            wrapped = store.wrap(label, "KEK", F[:2])
            child = diversify(key, F[:2], Algorithm.DES)
            assert wrapped.kcv == kcv(child, Algorithm.DES).hex().upper()
            assert wrapped.length == len(key) and len(wrapped.data) == 24
            info = city.unwrap(f"{label}@330100", wrapped.data, "KEK", KeyAlgorithm.DES, len(key))
            assert info.kcv == wrapped.kcv
            assert city.diversify(info.label, F[2:]) == diversify(key, F, Algorithm.DES)
        city.generate("OTHER-KEK", KeyAlgorithm.AES, 16)
        with pytest.raises(TamperedError, match="integrity"):
            city.unwrap("X", wrapped.data, "OTHER-KEK", KeyAlgorithm.DES, 8)
        assert "X" not in city


def test_put_refuses_bad_keys(store_path: Path) -> None:
    with SoftKeyStore.open(store_path, PASS) as store:
        with pytest.raises(UnsupportedKeyError, match="SM4 key is 16 bytes, not 8"):
            store.put("SM4:PUK", bytearray(8), KeyAlgorithm.SM4)
        with pytest.raises(KeyStoreError, match="already used"):
            store.put("DES:IRK", bytearray(16), KeyAlgorithm.DES)
        with pytest.raises(KeyStoreError, match="no key labelled"):
            store.info("DES:NOPE")
        store.delete("DES:STKSSSE")
        assert "DES:STKSSSE" not in store
    with SoftKeyStore.open(store_path, PASS) as store:
        assert "DES:STKSSSE" not in store


def test_demo_keyset_survives_a_store(tmp_path: Path) -> None:
    demo = demo_keyset(Algorithm.SM4)
    with SoftKeyStore.create(tmp_path / "s.json", PASS) as store:
        for name, key in demo.roots.items():
            store.put(f"SM4:{name}", bytearray(key), KeyAlgorithm.SM4, extractable=True)
        assert {i.label.split(":")[1]: i.kcv for i in store.list_keys()} == demo.kcvs()


# -- passphrase policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passphrase", "reason"),
    [
        (" ", "empty or only spaces"),
        ("a", "1 characters"),
        ("1", "1 characters"),
        ("   short one   ", "9 characters"),
        ("aaaaaaaaaaaaaaaaaaaa", "only 1 different"),
        ("abababababababab", "only 2 different"),
    ],
)
def test_weak_passphrases_are_refused_at_creation(
    tmp_path: Path, passphrase: str, reason: str
) -> None:
    path = tmp_path / "weak.json"
    with pytest.raises(WeakPassphraseError, match=reason) as caught:
        SoftKeyStore.create(path, passphrase)
    assert "at least 12 characters" in str(caught.value)
    assert not path.exists()


@pytest.mark.parametrize("n", [2, 2**10, 2**14])
def test_a_scrypt_cost_below_the_floor_is_refused(tmp_path: Path, n: int) -> None:
    with pytest.raises(WeakPassphraseError, match=f"scrypt N = {n} is below the floor of 32768"):
        SoftKeyStore.create(tmp_path / "cheap.json", PASS, scrypt_n=n)
    assert not (tmp_path / "cheap.json").exists()


def _version_1_store(path: Path, passphrase: str, n: int) -> None:
    """A store as the first format wrote it: no generation, no KDF digest, any N."""
    sealer = Sealer(passphrase, ScryptParams(bytes(range(16)), n))
    kdf = sealer.params.to_json()
    metadata = {
        "label": "DES:IRK",
        "algorithm": "DES",
        "length": 16,
        "kcv": check_value(K16, KeyAlgorithm.DES),
        "extractable": True,
    }

    def canonical(data: Any) -> bytes:
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    entry = {**metadata, "sealed": sealer.seal(K16, canonical(metadata))}
    header = {"format": "sbkcard-keystore", "version": 1, "aead": "AES-256-GCM", "kdf": kdf}
    seal_aad = b"sbkcard keystore seal v1\x00" + canonical({"header": header, "keys": [entry]})
    document = {
        **header,
        "check": sealer.check_value(),
        "keys": [entry],
        "seal": sealer.seal(b"", seal_aad),
    }
    sealer.close()
    path.write_text(json.dumps(document))


def test_an_existing_store_keeps_opening_below_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    _version_1_store(path, "pw", 2**4)
    with SoftKeyStore.open(path, "pw") as store:
        assert store.generation == 0
        store.put("DES:PUK", bytearray(K8), KeyAlgorithm.DES)
        assert store.generation == 1
    assert json.loads(path.read_text())["version"] == 2
    with SoftKeyStore.open(path, "pw") as store:
        with store.use("DES:IRK") as key:
            assert key == K16
        assert "DES:PUK" in store


# -- rollback -----------------------------------------------------------------------------------


def test_an_older_copy_of_the_store_is_refused(store_path: Path, tmp_path: Path) -> None:
    """A validly sealed older copy opens with the passphrase, but is an earlier generation."""
    old = store_path.read_bytes()
    with SoftKeyStore.open(store_path, PASS) as store:
        generation = store.generation
        store.delete("DES:STKSSSE")
        assert store.generation == generation + 1
    assert stat.S_IMODE(generation_path(store_path).stat().st_mode) == 0o600
    store_path.write_bytes(old)
    with pytest.raises(RollbackError, match=rf"generation {generation}, but generation "):
        SoftKeyStore.open(store_path, PASS)


def test_editing_the_generation_breaks_the_seal(store_path: Path) -> None:
    def bump(document: dict[str, Any]) -> None:
        document["generation"] += 10

    _edit(store_path, bump)
    with pytest.raises(TamperedError, match="altered"):
        SoftKeyStore.open(store_path, PASS)


def test_a_store_without_its_generation_file_must_be_adopted(store_path: Path) -> None:
    generation_path(store_path).unlink()
    with pytest.raises(RollbackError, match=r"no store\.json\.generation beside it"):
        SoftKeyStore.open(store_path, PASS)
    with pytest.raises(WrongPassphraseError):
        SoftKeyStore.open(store_path, "not the passphrase at all", adopt=True)
    assert not generation_path(store_path).exists()
    with SoftKeyStore.open(store_path, PASS, adopt=True) as store:
        generation = store.generation
    recorded = json.loads(generation_path(store_path).read_text())
    assert recorded["generation"] == generation
    with SoftKeyStore.open(store_path, PASS) as store:
        assert store.description.endswith(f"(generation {generation})")
