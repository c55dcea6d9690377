"""``sbkcard keys`` and ``load_keyset``: what other commands' ``--keys KEYSTORE`` loads."""

import argparse
from pathlib import Path

import pytest

from sbkcard.cli import main
from sbkcard.cli.keys import keyset_from_args
from sbkcard.keys import Algorithm, KeyStoreError, load_keyset
from sbkcard.keys.hierarchy import DEMO_LABEL, demo_keyset
from sbkcard.keys.soft_store import SoftKeyStore
from sbkcard.keys.store import KeyAlgorithm, root_label


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "pass"
    path.write_text("demo store passphrase\n")
    return path


def test_new_demo_show_generate_delete(
    tmp_path: Path, passfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "demo.json")
    pw = ["--passphrase-file", str(passfile)]
    assert main(["keys", "new-demo", "--out", store, "--algorithm", "sm4", *pw]) == 0
    out = capsys.readouterr().out
    demo = demo_keyset(Algorithm.SM4)
    assert DEMO_LABEL in out
    for name, kcv in demo.kcvs().items():
        assert f"SM4:{name}" in out and kcv in out
    assert (
        main(
            [
                "keys",
                "generate",
                store,
                "--label",
                "KEK-410100",
                "--algorithm",
                "AES",
                "--length",
                "16",
                *pw,
            ]
        )
        == 0
    )
    assert "generated KEK-410100: AES 16 bytes, KCV" in capsys.readouterr().out
    assert main(["keys", "show", store, *pw]) == 0
    shown = capsys.readouterr().out
    assert "KEK-410100" in shown and "non-extractable" in shown and "level 3" in shown
    assert main(["keys", "delete", store, "--label", "KEK-410100", *pw]) == 0
    assert "deleted KEK-410100" in capsys.readouterr().out
    assert main(["keys", "show", store, *pw]) == 0
    assert "KEK-410100" not in capsys.readouterr().out
    for key in demo.roots.values():
        assert key.hex() not in (tmp_path / "demo.json").read_text().lower()
    (tmp_path / "wrong").write_text("nope\n")
    assert main(["keys", "show", store, "--passphrase-file", str(tmp_path / "wrong")]) == 1
    assert "wrong passphrase" in capsys.readouterr().err


def test_load_keyset_from_demo_and_from_a_store(tmp_path: Path, passfile: Path) -> None:
    assert load_keyset("demo").kcvs() == demo_keyset(Algorithm.DES).kcvs()
    assert load_keyset("demo:SM4").algorithm is Algorithm.SM4
    assert load_keyset("demo", algorithm=Algorithm.SM4).kcvs() == demo_keyset(Algorithm.SM4).kcvs()
    main(
        ["keys", "new-demo", "--out", str(tmp_path / "s.json"), "--passphrase-file", str(passfile)]
    )
    loaded = load_keyset(tmp_path / "s.json", "demo store passphrase", algorithm=Algorithm.SM4)
    assert loaded.roots == demo_keyset(Algorithm.SM4).roots
    args = argparse.Namespace(keys=str(tmp_path / "s.json"), passphrase_file=passfile)
    assert keyset_from_args(args, Algorithm.DES).roots == demo_keyset(Algorithm.DES).roots


def test_load_keyset_explains_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SBKCARD_PASSPHRASE", raising=False)
    path = tmp_path / "s.json"
    with SoftKeyStore.create(path, "a good long passphrase") as store:
        key = bytearray(demo_keyset(Algorithm.DES).roots["IRK"])
        store.put(root_label(Algorithm.DES, "IRK"), key, KeyAlgorithm.DES)
    with pytest.raises(KeyStoreError, match="passphrase is needed"):
        load_keyset(path)
    monkeypatch.setenv("SBKCARD_PASSPHRASE", "a good long passphrase")
    with pytest.raises(KeyStoreError, match="not extractable"):
        load_keyset(path)
    with pytest.raises(KeyStoreError, match="no SM4 national roots"):
        load_keyset(path, algorithm=Algorithm.SM4)
    with pytest.raises(KeyStoreError, match="never leave it"):
        load_keyset("pkcs11:token=x")
    with pytest.raises(KeyStoreError, match="demo:DES or demo:SM4"):
        load_keyset("demo:AES")


@pytest.mark.parametrize(
    ("passphrase", "options", "says"),
    [
        (" ", [], "empty or only spaces"),
        ("a", [], "1 characters"),
        ("1", [], "1 characters"),
        ("demo store passphrase", ["--scrypt-n", "2"], "scrypt N = 2 is below the floor"),
    ],
)
def test_new_refuses_a_weak_store_and_says_the_policy(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    passphrase: str,
    options: list[str],
    says: str,
) -> None:
    (tmp_path / "pass").write_text(passphrase + "\n")
    store = tmp_path / "weak.json"
    args = ["keys", "new", "--out", str(store), "--passphrase-file", str(tmp_path / "pass")]
    assert main([*args, *options]) == 1
    err = capsys.readouterr().err
    assert says in err and "the policy is at least 12 characters" in err
    assert "Traceback" not in err and not store.exists()


def test_adopt_a_store_that_lost_its_generation_file(
    tmp_path: Path, passfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.json"
    pw = ["--passphrase-file", str(passfile)]
    assert main(["keys", "new", "--out", str(store), *pw]) == 0
    (tmp_path / "s.json.generation").unlink()
    capsys.readouterr()
    assert main(["keys", "show", str(store), *pw]) == 1
    assert "keys adopt" in capsys.readouterr().err
    assert main(["keys", "adopt", str(store), *pw]) == 0
    assert "generation 1 recorded" in capsys.readouterr().out
    assert main(["keys", "show", str(store), *pw]) == 0
