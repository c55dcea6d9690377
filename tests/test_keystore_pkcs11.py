"""The PKCS#11 key store against a real SoftHSM2 token made here (runs in CI, never skips)."""

from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from softhsm_support import softhsm_tokens

from sbkcard.cli import main
from sbkcard.keys import Algorithm, diversify, kcv
from sbkcard.keys.hierarchy import Level, demo_keyset, derive_card_keys, level_key
from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE, Pkcs11Store
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import (
    KeyAlgorithm,
    KeyStore,
    KeyStoreError,
    TamperedError,
    UnsupportedKeyError,
    WrongPassphraseError,
    root_label,
)
from sbkcard.keys.store_keyset import StoreKeySet, open_store

pytestmark = pytest.mark.hsm

TOKEN = "sbkcard-test"
PIN_TOKEN = "sbkcard-pin"
PIN = "246810"
K16 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
K8 = bytes.fromhex("0123456789ABCDEF")
F = [b"330000sh", b"330100sx", bytes.fromhex("8660330100000001")]
REGION = "330100"
ATR = bytes.fromhex("3B6D0000008153414D8660330100000001")


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private SoftHSM2 token directory with two fresh tokens; SOFTHSM2_CONF points at it."""
    with softhsm_tokens(tmp_path_factory.mktemp("softhsm"), PIN, TOKEN, PIN_TOKEN) as conf:
        yield conf


@pytest.fixture
def hsm(softhsm: Path) -> Iterator[Pkcs11Store]:
    """The test token, emptied of sbkcard keys after each test."""
    store = Pkcs11Store(TOKEN, PIN)
    yield store
    for info in store.list_keys():
        store.delete(info.label)
    store.close()


def _raw_object(label: str) -> pkcs11.SecretKey:
    """The token object itself, through python-pkcs11 (the store's session is logged in)."""
    token = pkcs11.lib(SOFTHSM2_MODULE).get_token(token_label=TOKEN)
    session = token.open()
    return session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)


def test_imported_and_generated_keys_are_sensitive_and_non_extractable(
    hsm: Pkcs11Store,
) -> None:
    assert isinstance(hsm, KeyStore)
    info = hsm.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES)
    assert info.kcv == kcv(K16, Algorithm.DES).hex().upper() == "08D7B4"
    hsm.generate("DES:PUK", KeyAlgorithm.DES, 16)
    hsm.generate("DES:STKSSSE", KeyAlgorithm.DES, 8)
    for label in ("DES:IRK", "DES:PUK", "DES:STKSSSE"):
        obj = _raw_object(label)
        assert obj[Attribute.SENSITIVE] is True
        assert obj[Attribute.EXTRACTABLE] is False
        assert obj[Attribute.TOKEN] is True
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            obj[Attribute.VALUE]
    lengths = {i.label: i.length for i in hsm.list_keys()}
    assert lengths == {"DES:IRK": 16, "DES:PUK": 16, "DES:STKSSSE": 8}
    assert not any(i.extractable for i in hsm.list_keys())


@pytest.mark.parametrize("key", [K16, K8], ids=["double", "single"])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_diversification_in_the_token_equals_the_library(
    hsm: Pkcs11Store, key: bytes, levels: int
) -> None:
    hsm.put("DES:IRK", bytearray(key), KeyAlgorithm.DES)
    assert hsm.diversify("DES:IRK", F[:levels]) == diversify(key, F[:levels], Algorithm.DES)
    derived = hsm.derive("DES:IRK", F[:levels], "DES:IRK@330100")
    expected = diversify(key, F[:levels], Algorithm.DES)
    assert derived.kcv == kcv(expected, Algorithm.DES).hex().upper()
    assert derived.length == len(key) and not derived.extractable


def test_generated_single_length_key_behaves_as_single_des(hsm: Pkcs11Store) -> None:
    info = hsm.generate("DES:STKDF01", KeyAlgorithm.DES, 8)
    child = hsm.diversify("DES:STKDF01", F[:1])
    grandchild = hsm.diversify("DES:STKDF01", F[:2])
    assert len(child) == 8
    # the 8-byte child diversifies on as single DES: the library agrees from the child
    assert grandchild == diversify(bytes(child), F[1:2], Algorithm.DES)
    assert info.length == 8


def test_wrap_out_of_the_token_and_back(hsm: Pkcs11Store, tmp_path: Path) -> None:
    kek = bytes(range(16))
    hsm.put("KEK-330100", bytearray(kek), KeyAlgorithm.AES)
    hsm.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES)
    hsm.put("DES:STKSSSE", bytearray(K8), KeyAlgorithm.DES)
    with pytest.raises(KeyStoreError, match="not extractable"):
        hsm.wrap("DES:IRK", "KEK-330100")
    with SoftKeyStore.create(tmp_path / "city.json", "city key store passphrase") as city:
        city.put("KEK-330100", bytearray(kek), KeyAlgorithm.AES)
        for label, key in (("DES:IRK", K16), ("DES:STKSSSE", K8)):
            wrapped = hsm.wrap(label, "KEK-330100", F[:2])
            expected = diversify(key, F[:2], Algorithm.DES)
            assert wrapped.kcv == kcv(expected, Algorithm.DES).hex().upper()
            info = city.unwrap(
                f"{label}@{REGION}", wrapped.data, "KEK-330100", KeyAlgorithm.DES, len(key)
            )
            assert info.kcv == wrapped.kcv
            # and from the software store back into the token
            city_wrapped = city.wrap(f"{label}@{REGION}", "KEK-330100", F[2:])
            back = hsm.unwrap(
                f"{label}@card", city_wrapped.data, "KEK-330100", KeyAlgorithm.DES, len(key)
            )
            assert back.kcv == kcv(diversify(key, F, Algorithm.DES), Algorithm.DES).hex().upper()
    altered = bytearray(wrapped.data)
    altered[5] ^= 0x40
    with pytest.raises(TamperedError, match="integrity check"):
        hsm.unwrap("X", bytes(altered), "KEK-330100", KeyAlgorithm.DES, 8)
    with pytest.raises(UnsupportedKeyError, match="AES transport key"):
        hsm.wrap("DES:IRK", "DES:STKSSSE", F[:1])


def test_sm4_is_refused_clearly(hsm: Pkcs11Store) -> None:
    for attempt in (
        lambda: hsm.put("SM4:IRK", bytearray(K16), KeyAlgorithm.SM4),
        lambda: hsm.generate("SM4:IRK", KeyAlgorithm.SM4, 16),
    ):
        with pytest.raises(UnsupportedKeyError) as error:
            attempt()
        message = str(error.value)
        assert "SM4" in message and "SoftHSM" in message and "HSM" in message
    assert "SM4:IRK" not in hsm


def test_keys_never_leave_in_clear(hsm: Pkcs11Store) -> None:
    hsm.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES, extractable=True)
    with pytest.raises(UnsupportedKeyError, match="never leaves the token"):
        hsm.use("DES:IRK")
    with pytest.raises(KeyStoreError, match="at least one factor"):
        hsm.diversify("DES:IRK", [])
    with pytest.raises(KeyStoreError, match="already used"):
        hsm.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES)


def test_wrong_pin_and_missing_token(softhsm: Path) -> None:
    with pytest.raises(WrongPassphraseError, match="wrong PIN"):
        Pkcs11Store(PIN_TOKEN, "000000")
    with pytest.raises(KeyStoreError, match="no token labelled"):
        Pkcs11Store("no-such-token", PIN)


def test_card_keys_derived_in_the_token(hsm: Pkcs11Store) -> None:
    demo = demo_keyset(Algorithm.DES)
    names = ["IRK", "STKSSSE", "RKSSSE", "DPK"]
    for name in names:
        hsm.put(root_label(Algorithm.DES, name), bytearray(demo.roots[name]), KeyAlgorithm.DES)
    keyset = StoreKeySet.from_store(hsm, Algorithm.DES)
    assert keyset.level is Level.NATIONAL and list(keyset.labels) == names
    assert keyset.kcvs() == {name: demo.kcvs()[name] for name in names}
    card = keyset.card_keys(REGION, ATR)
    assert card == derive_card_keys(demo, REGION, ATR, names)
    city = keyset.level_keys(REGION, Level.CITY)
    assert city == {name: level_key(demo, name, REGION, Level.CITY) for name in names}


def test_store_spec_and_cli_show(
    hsm: Pkcs11Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hsm.put("DES:IRK", bytearray(K16), KeyAlgorithm.DES)
    spec = f"pkcs11:token={TOKEN};module={SOFTHSM2_MODULE}"
    other = open_store(spec, PIN)
    try:
        assert [i.label for i in other.list_keys()] == ["DES:IRK"]
    finally:
        other.close()
    monkeypatch.setenv("SBKCARD_PASSPHRASE", PIN)
    assert main(["keys", "show", spec]) == 0
    out = capsys.readouterr().out
    assert "DES:IRK" in out and "08D7B4" in out and "non-extractable" in out
    assert K16.hex() not in out.lower()
    with pytest.raises(KeyStoreError, match="token label is missing"):
        open_store("pkcs11:module=/x.so", PIN)
