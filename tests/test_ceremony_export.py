"""Exporting a city's keys under a transport key, and importing them on the city's line."""

import functools
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transcript_support import rechain

from sbkcard.keys import Algorithm, kcv, sm3
from sbkcard.keys.ceremony import CeremonyError, CheckValueError, export_keys, import_keys
from sbkcard.keys.hierarchy import Level, demo_keyset, derive_card_keys, level_key
from sbkcard.keys.soft_store import SoftKeyStore, generation_path
from sbkcard.keys.store import KeyAlgorithm, level_label, root_label
from sbkcard.keys.store_keyset import StoreKeySet
from sbkcard.keys.transcript import Transcript, verify_transcript

PROVINCE = "province key store passphrase"
CITY = "city key store passphrase"
REGION = "330102"  # Zhejiang: the city factor is "330100sx"
NAMES = ["IRK", "STKSSSE", "UKSSSE", "DPK"]
KEK = bytes(range(0xA0, 0xB0))


@pytest.fixture(scope="module", params=[Algorithm.DES, Algorithm.SM4], ids=lambda a: a.name)
def made_sites(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Algorithm, Path, Path]:
    """A provincial store with demo roots and a city store; both hold the same KEK."""
    algorithm: Algorithm = request.param
    demo = demo_keyset(algorithm)
    made = tmp_path_factory.mktemp("sites")
    province, city = made / "province.json", made / "city.json"
    kek_algorithm = KeyAlgorithm.AES if algorithm is Algorithm.DES else KeyAlgorithm.SM4
    with SoftKeyStore.create(province, PROVINCE) as store:
        for name in NAMES:
            key = bytearray(demo.roots[name])
            store.put(root_label(algorithm, name), key, KeyAlgorithm.of(algorithm))
        store.put("KEK-3301", bytearray(KEK), kek_algorithm)
    with SoftKeyStore.create(city, CITY) as store:
        store.put("KEK-3301", bytearray(KEK), kek_algorithm)
    return algorithm, province, city


@pytest.fixture
def sites(made_sites: tuple[Algorithm, Path, Path], tmp_path: Path) -> tuple[Algorithm, Path, Path]:
    """Copies of both stores (with their generation files) for one test."""
    algorithm, *stores = made_sites
    for store in stores:
        for source in (store, generation_path(store)):
            shutil.copy2(source, tmp_path / source.name)
    return algorithm, tmp_path / "province.json", tmp_path / "city.json"


def _export(
    algorithm: Algorithm, province: Path, tmp_path: Path, level: Level = Level.CITY
) -> dict[str, str]:
    transcript = Transcript.create(tmp_path / "export.jsonl", ceremony="export", actor="省中心")
    with SoftKeyStore.open(province, PROVINCE) as store:
        kcvs = export_keys(
            store,
            algorithm=algorithm,
            region=REGION,
            kek_label="KEK-3301",
            out=tmp_path / "package.json",
            transcript=transcript,
            operator="省中心",
            level=level,
        )
    # the head goes into the export ceremony's signed minutes
    (tmp_path / "export.head").write_text(transcript.close("省中心"))
    return kcvs


def _import(
    city: Path, tmp_path: Path, *, with_transcript: bool = True, name: str = "i"
) -> list[str]:
    transcript = Transcript.create(tmp_path / f"{name}.jsonl", ceremony="import", actor="市中心")
    with SoftKeyStore.open(city, CITY) as store:
        imported = import_keys(
            tmp_path / "package.json",
            store,
            kek_label="KEK-3301",
            transcript=transcript,
            operator="市中心",
            exporter_transcript=tmp_path / "export.jsonl" if with_transcript else None,
            exporter_head=(tmp_path / "export.head").read_text() if with_transcript else None,
            extractable=True,
        )
    transcript.close("市中心")
    return [info.label for info in imported]


@pytest.mark.parametrize("level", [Level.CITY, Level.PROVINCE])
def test_city_keys_travel_and_arrive_with_their_kcvs(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path, level: Level
) -> None:
    algorithm, province, city = sites
    demo = demo_keyset(algorithm)
    kcvs = _export(algorithm, province, tmp_path, level)
    expected = {
        name: kcv(level_key(demo, name, REGION, level), algorithm).hex().upper() for name in NAMES
    }
    assert kcvs == expected
    labels = _import(city, tmp_path)
    region = "330102" if level is Level.CITY else "330000"
    assert labels == [f"{algorithm.name}:{name}@{region}" for name in NAMES]
    with SoftKeyStore.open(city, CITY) as store:
        keyset = StoreKeySet.from_store(store, algorithm, REGION)
        assert keyset.level is level and keyset.kcvs() == expected
        atr = bytes.fromhex("3B6D0000008153414D8660330102000001")
        assert keyset.card_keys(REGION, atr) == derive_card_keys(demo, REGION, atr, NAMES)
    package = (tmp_path / "package.json").read_text()
    assert stat.S_IMODE((tmp_path / "package.json").stat().st_mode) == 0o600  # wrapped keys
    for name in NAMES:
        assert level_key(demo, name, REGION, level).hex() not in package.lower()
        assert demo.roots[name].hex() not in package.lower()
    exported = verify_transcript(tmp_path / "export.jsonl").entries[1].details
    assert exported["kcvs"] == expected and exported["kek_kcv"]
    imported = verify_transcript(tmp_path / "i.jsonl").entries[-2].details
    assert imported["checked_against"] == "exporter transcript"


def _tamper(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    package = json.loads(path.read_text())
    change(package)
    path.write_text(json.dumps(package, indent=2))


def test_altered_package_is_refused_and_nothing_imported(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    algorithm, province, city = sites
    _export(algorithm, province, tmp_path)

    def flip(package: dict[str, Any]) -> None:
        wrapped = bytearray.fromhex(package["keys"][2]["wrapped"])
        wrapped[-1] ^= 1
        package["keys"][2]["wrapped"] = wrapped.hex()

    _tamper(tmp_path / "package.json", flip)
    with pytest.raises(CheckValueError, match=r"UKSSSE: .*integrity check failed"):
        _import(city, tmp_path, with_transcript=False)
    with SoftKeyStore.open(city, CITY) as store:
        assert [info.label for info in store.list_keys()] == ["KEK-3301"]


def test_swapped_entries_are_caught_by_the_exporter_transcript(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    algorithm, province, city = sites
    _export(algorithm, province, tmp_path)

    def swap(package: dict[str, Any]) -> None:
        keys = package["keys"]
        keys[0]["name"], keys[2]["name"] = keys[2]["name"], keys[0]["name"]

    _tamper(tmp_path / "package.json", swap)
    with pytest.raises(CeremonyError, match="records no export of a package"):
        _import(city, tmp_path, name="a")
    # without the exporter's transcript the KCVs in the package itself still match
    assert len(_import(city, tmp_path, with_transcript=False, name="b")) == len(NAMES)


def test_a_rechained_exporter_transcript_is_refused_by_its_head(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    """A forger swaps two entries and re-chains the exporter transcript to match: the chain
    is intact, but it no longer ends with the head written in the export minutes."""
    algorithm, province, city = sites
    _export(algorithm, province, tmp_path)
    package_path = tmp_path / "package.json"

    def swap(package: dict[str, Any]) -> None:
        keys = package["keys"]
        keys[0]["name"], keys[2]["name"] = keys[2]["name"], keys[0]["name"]
        kcvs = {entry["name"]: entry["kcv"] for entry in keys}
        forged["kcvs"] = kcvs

    forged: dict[str, Any] = {}
    _tamper(package_path, swap)
    digest = sm3(package_path.read_bytes()).hex()

    def match(raw: dict[str, Any]) -> None:
        if raw["step"] == "keys exported":
            raw["details"]["package_sm3"] = digest
            raw["details"]["kcvs"] = forged["kcvs"]

    rechain(tmp_path / "export.jsonl", match)
    verify_transcript(tmp_path / "export.jsonl")  # the chain alone holds
    with pytest.raises(CeremonyError, match="not the recorded head"):
        _import(city, tmp_path, name="a")
    with SoftKeyStore.open(city, CITY) as store:
        assert [info.label for info in store.list_keys()] == ["KEK-3301"]
    steps = [e.step for e in verify_transcript(tmp_path / "a.jsonl", require_closed=False).entries]
    assert "import failed" in steps


def test_an_exporter_transcript_without_its_head_is_refused(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    algorithm, province, city = sites
    _export(algorithm, province, tmp_path)
    (tmp_path / "export.head").write_text("")
    with pytest.raises(CeremonyError, match="give that head"):
        _import(city, tmp_path)


def test_wrong_transport_key_is_named(sites: tuple[Algorithm, Path, Path], tmp_path: Path) -> None:
    algorithm, province, city = sites
    _export(algorithm, province, tmp_path)
    with SoftKeyStore.open(city, CITY) as store:
        store.delete("KEK-3301")
        store.generate(
            "KEK-3301", KeyAlgorithm.SM4 if algorithm is Algorithm.SM4 else KeyAlgorithm.AES, 16
        )
    with pytest.raises(CheckValueError, match="transport key 'KEK-3301' has KCV"):
        _import(city, tmp_path)
    steps = [e.step for e in verify_transcript(tmp_path / "i.jsonl", require_closed=False).entries]
    assert "import failed" in steps


def test_export_needs_roots_and_a_known_level(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    algorithm, province, _ = sites
    transcript = Transcript.create(tmp_path / "t.jsonl", ceremony="export", actor="o")
    with SoftKeyStore.open(province, PROVINCE) as store:
        export = functools.partial(
            export_keys,
            store,
            algorithm=algorithm,
            region=REGION,
            kek_label="KEK-3301",
            out=tmp_path / "x.json",
            transcript=transcript,
            operator="o",
        )
        with pytest.raises(CeremonyError, match=r"no \w+ key at level 3 for \['PUK'\]"):
            export(names=["PUK"])
        with pytest.raises(CeremonyError, match="level 1"):
            export(level=Level.NATIONAL)


def test_a_province_exports_from_its_own_provincial_keys(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path
) -> None:
    """Part 10 §6.1.2: a province holds the keys the ministry gave it, not the roots."""
    algorithm, _, city = sites
    demo = demo_keyset(algorithm)
    province = tmp_path / "provincial-only.json"
    kek_algorithm = KeyAlgorithm.AES if algorithm is Algorithm.DES else KeyAlgorithm.SM4
    with SoftKeyStore.create(province, PROVINCE) as store:
        for name in NAMES:
            key = bytearray(level_key(demo, name, REGION, Level.PROVINCE))
            label = level_label(algorithm, name, REGION, Level.PROVINCE)
            store.put(label, key, KeyAlgorithm.of(algorithm))
        store.put("KEK-3301", bytearray(KEK), kek_algorithm)
    kcvs = _export(algorithm, province, tmp_path)
    assert kcvs == {
        name: kcv(level_key(demo, name, REGION, Level.CITY), algorithm).hex().upper()
        for name in NAMES
    }
    exported = verify_transcript(tmp_path / "export.jsonl").entries[1].details
    assert exported["source_level"] == 2
    assert len(_import(city, tmp_path)) == len(NAMES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{", "not a readable export package"),  # not UTF-8 JSON
        (b"[]", "not an sbkcard export package"),
        (b'{"format": "sbkcard-key-export", "version": 9}', "export package version 9 unknown"),
    ],
)
def test_a_file_that_is_no_package_is_named(
    sites: tuple[Algorithm, Path, Path], tmp_path: Path, content: bytes, message: str
) -> None:
    _, _, city = sites
    (tmp_path / "package.json").write_bytes(content)
    with pytest.raises(CeremonyError, match=message):
        _import(city, tmp_path, with_transcript=False)
    with SoftKeyStore.open(city, CITY) as store:
        assert [info.label for info in store.list_keys()] == ["KEK-3301"]
