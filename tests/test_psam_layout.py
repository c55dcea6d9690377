"""The PSAM declared as data: key records, the key-ID allocation, files, content (Part 9 §5–§6)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.applet_model.psam import (
    DES_ENVIRONMENT,
    KEY_ID_ALLOCATION,
    SM4_ENVIRONMENT,
    ApplicationInfo,
    Authority,
    KeyAlgorithm,
    KeyRecord,
    KeyType,
    PsamError,
    PublicInfo,
    TerminalInfo,
    card_key_records,
    is_secret,
    psam_content,
)
from sbkcard.applet_model.psam.files import decode_sequence, encode_sequence
from sbkcard.applet_model.psam.key_records import (
    KeyHolder,
    Operation,
    allocation_of,
    split_usage,
    usage_byte,
)
from sbkcard.applet_model.psam.layout import FILES, Structure, file_spec
from sbkcard.identifiers import FormatError
from sbkcard.keys import Algorithm, kcv
from sbkcard.keys.hierarchy import CARD_KEYS, PSAM_KEY_IDS, Level, demo_keyset, level_key

# -- usage byte and key records (Part 9 §6) -------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "levels", "key_type"),
    [
        (0x67, 3, KeyType.ENCRYPTION),  # IRK, RK: national roots (annex B)
        (0x26, 1, KeyType.MAC),  # STK: city roots
        (0x27, 1, KeyType.ENCRYPTION),  # UK
        (0x22, 1, KeyType.PURCHASE),  # DPK
        (0x48, 2, KeyType.MAC_ENCRYPTION),  # the real trace BF DE 48 5D
    ],
)
def test_usage_byte_of_annex_b(usage: int, levels: int, key_type: KeyType) -> None:
    assert split_usage(usage) == (levels, key_type)
    assert usage_byte(key_type, levels) == usage


def test_key_types_allow_what_part9_says() -> None:
    assert KeyType.MAC.operations == {Operation.MAC}
    assert KeyType.ENCRYPTION.operations == {Operation.ENCRYPT}
    assert KeyType.MAC_ENCRYPTION.operations == {Operation.MAC, Operation.ENCRYPT}
    assert not KeyType.PURCHASE.operations
    assert not KeyType.TAC.operations


records = st.builds(
    lambda key_type, levels, ident, algorithm, data: KeyRecord(
        key_type, levels, ident, algorithm, data[: algorithm.key_length]
    ),
    st.sampled_from(KeyType),
    st.integers(0, 3),
    st.integers(0, 0xFF),
    st.sampled_from(KeyAlgorithm),
    st.binary(min_size=16, max_size=16),
)


@given(records)
def test_key_record_round_trip(record: KeyRecord) -> None:
    raw = record.to_bytes()
    assert len(raw) == 8 + record.algorithm.key_length
    assert raw[0] == record.usage and raw[2] == 0 and raw[4:8] == bytes(4)
    assert KeyRecord.from_bytes(raw) == record
    assert KeyRecord.from_change_data(record.change_data(), record.algorithm) == record


def test_key_record_of_spec_format() -> None:
    key = bytes(range(16))
    raw = KeyRecord(KeyType.ENCRYPTION, 3, 0x08, KeyAlgorithm.TDES, key).to_bytes()
    assert raw == bytes.fromhex("67 08 00 00 00000000") + key


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes.fromhex("67080000000000"), "header"),
        (bytes.fromhex("6708010000000000") + bytes(16), "RFU"),
        (bytes.fromhex("6708000000010000") + bytes(16), "rights"),
        (bytes.fromhex("6708000400000000") + bytes(16), "algorithm"),
        (bytes.fromhex("6708000100000000") + bytes(16), "DES key of 16"),
        (bytes.fromhex("6A08000000000000") + bytes(16), "type 10"),
        (bytes.fromhex("8708000000000000") + bytes(16), "4 levels"),
    ],
)
def test_malformed_key_records_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(PsamError):
        KeyRecord.from_bytes(raw)


def test_key_record_repr_shows_kcv_not_key() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    record = KeyRecord(KeyType.MAC, 1, 0x09, KeyAlgorithm.SM4, key)
    text = repr(record)
    assert key.hex() not in text.lower() and key.hex().upper() not in text
    assert kcv(key, Algorithm.SM4).hex().upper() in text


def test_algorithm_byte() -> None:
    assert [a.value for a in KeyAlgorithm] == [0x00, 0x01, 0x02, 0x03]
    assert KeyAlgorithm.for_key(Algorithm.DES, bytes(8)) is KeyAlgorithm.DES
    assert KeyAlgorithm.for_key(Algorithm.DES, bytes(16)) is KeyAlgorithm.TDES
    assert KeyAlgorithm.for_key(Algorithm.SM4, bytes(16)) is KeyAlgorithm.SM4
    # the SM4 code is the user card's FCI tag 86 code (S3 §10.1)
    assert KeyAlgorithm.SM4.value == Algorithm.SM4.value


# -- key-ID allocation (Part 9 table A1) ----------------------------------------------------


def test_allocation_partitions_00_to_bf_and_reserves_the_rest() -> None:
    for key_id in range(0x100):
        cells = [cell for cell in KEY_ID_ALLOCATION if key_id in cell]
        assert len(cells) == (1 if key_id < 0xC0 else 0), hex(key_id)
        assert allocation_of(key_id) == (cells[0] if cells else None)


def test_allocation_agrees_with_the_key_hierarchy() -> None:
    holders = {"psam": KeyHolder.PSAM, "ddf": KeyHolder.DDF, "application": KeyHolder.APPLICATION}
    authorities = {
        Level.NATIONAL: Authority.NATIONAL,
        Level.PROVINCE: Authority.PROVINCIAL,
        Level.CITY: Authority.CITY,
    }
    for (holder, level), ids in PSAM_KEY_IDS.items():
        for key_id in ids:
            cell = allocation_of(key_id)
            assert cell is not None
            assert (cell.holder, cell.authority) == (holders[holder], authorities[level])


def test_every_card_key_has_a_distinct_psam_slot() -> None:
    slots = set()
    for spec in CARD_KEYS:
        if spec.psam_id is None or spec.psam_usage is None:
            continue
        key_type = KeyType(spec.psam_usage & 0x1F)
        if key_type is not KeyType.PURCHASE:
            cell = allocation_of(spec.psam_id)
            assert cell is not None and cell.holder is not KeyHolder.PSAM, spec.name
        assert (key_type, spec.psam_id) not in slots, spec.name
        slots.add((key_type, spec.psam_id))


# -- files (Part 9 §5) ---------------------------------------------------------------------


def test_file_table() -> None:
    assert [f.fid for f in FILES] == [1, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x1C, 0x11, 0x12, 0x13]
    sizes = {f.fid: f.size for f in FILES if f.structure is Structure.TRANSPARENT}
    assert sizes == {0x15: 15, 0x16: 6, 0x19: 4, 0x1A: 10, 0x1B: 10, 0x1C: 10}
    assert all(f.sfi == f.fid for f in FILES)
    for authority in Authority:
        keys = file_spec(authority.key_file)
        info = file_spec(authority.info_file)
        assert keys is not None and info is not None
        assert keys.write == info.write == f"KID-0{authority.value}"


def test_environment_names() -> None:
    assert DES_ENVIRONMENT.ddf_name == bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
    assert SM4_ENVIRONMENT.ddf_name == bytes.fromhex("7378322E73682EC9E7BBE1B1A3D5CF")
    assert (DES_ENVIRONMENT.ddf_fid, SM4_ENVIRONMENT.ddf_fid) == (0x3F00, 0xDDF1)


def test_public_info_of_the_spec_example() -> None:
    raw = bytes.fromhex("43 43990020120619810006 22 44 0000")
    info = PublicInfo.from_bytes(raw)
    assert info == PublicInfo(0x43, "43990020120619810006", 0x22, 0x44, bytes(2))
    assert info.to_bytes() == raw


@given(
    st.integers(0, 255),
    st.text("0123456789", max_size=20),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(min_size=2, max_size=2),
)
def test_public_info_round_trip(
    issuer: int, serial: str, version: int, kind: int, extra: bytes
) -> None:
    info = PublicInfo(issuer, serial, version, kind, extra)
    assert PublicInfo.from_bytes(info.to_bytes()) == info


@given(st.text("0123456789", min_size=12, max_size=12))
def test_terminal_info_round_trip(number: str) -> None:
    info = TerminalInfo(number)
    assert len(info.to_bytes()) == 6
    assert TerminalInfo.from_bytes(info.to_bytes()) == info
    assert info.region == number[:6]


@pytest.mark.parametrize("number", ["41010000000", "4101000000012", "41010000000A"])
def test_terminal_number_is_twelve_digits(number: str) -> None:
    with pytest.raises(PsamError):
        TerminalInfo(number)


def test_application_info_round_trip() -> None:
    info = ApplicationInfo(1, 2, datetime.date(2024, 1, 1), None)
    raw = info.to_bytes()
    assert raw == bytes.fromhex("01 02 20240101 FFFFFFFF")
    assert ApplicationInfo.from_bytes(raw) == info
    with pytest.raises(FormatError):
        ApplicationInfo.from_bytes(bytes.fromhex("0102 20241301 FFFFFFFF"))
    with pytest.raises(PsamError):
        ApplicationInfo.from_bytes(bytes(9))


def test_sequence_file() -> None:
    assert encode_sequence(0x01020304) == bytes.fromhex("01020304")
    assert decode_sequence(bytes.fromhex("FFFFFFFF")) == 0xFFFFFFFF
    with pytest.raises(PsamError):
        encode_sequence(1 << 32)


# -- content -------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("cipher", [Algorithm.DES, Algorithm.SM4])
def test_content_holds_level_keys(level: int, cipher: Algorithm) -> None:
    keyset = demo_keyset(cipher)
    content = psam_content(keyset, level=level, terminal_number="330102000007")
    env = DES_ENVIRONMENT if cipher is Algorithm.DES else SM4_ENVIRONMENT
    held = 0
    for spec in CARD_KEYS:
        if spec.psam_id is None or spec.psam_usage is None:
            continue
        key_type = spec.psam_usage & 0x1F
        cell = allocation_of(spec.psam_id)
        assert cell is not None
        authority = Authority.NATIONAL if key_type == KeyType.PURCHASE else cell.authority
        record = KeyRecord.from_bytes(
            content[env.key_record_key(authority, key_type, spec.psam_id)]
        )
        assert record.usage == level << 5 | key_type
        assert record.key == level_key(keyset, spec.name, "330102", level)
        held += 1
    assert held == len(card_key_records(keyset, level=level, region="330102"))


def test_content_environments() -> None:
    both = psam_content()
    assert DES_ENVIRONMENT.adf_path in both and SM4_ENVIRONMENT.path in both
    des_only = psam_content(algorithm=Algorithm.DES)
    assert DES_ENVIRONMENT.adf_path in des_only
    assert not any(key.startswith(SM4_ENVIRONMENT.path) for key in des_only)
    sm4_only = psam_content(demo_keyset(Algorithm.SM4))
    assert DES_ENVIRONMENT.path in sm4_only and DES_ENVIRONMENT.adf_path not in sm4_only


def test_secrets_are_exactly_the_keys() -> None:
    content = psam_content()
    secret = {key for key in content if is_secret(key)}
    parts = [key.split("/") for key in content]
    records = sum(1 for p in parts if len(p) > 2 and p[-2] in ("0011", "0012", "0013"))
    assert len(secret) == records + 2  # plus one ADF master key per environment
    assert all(key.endswith("/MK") or "-" in key.rsplit("/", 1)[1] for key in secret)
    assert not any(is_secret(k) for k in content if "/tries/" in k or k.endswith("/0019"))


def test_content_refuses_bad_requests() -> None:
    des = demo_keyset(Algorithm.DES)
    with pytest.raises(PsamError):
        psam_content(level=0)
    with pytest.raises(PsamError):
        psam_content(des, algorithm=Algorithm.SM4)
    with pytest.raises(PsamError):
        psam_content([des, des])
    reserved = KeyRecord(KeyType.MAC, 1, 0xC0, KeyAlgorithm.TDES, bytes(16))
    with pytest.raises(PsamError, match="reserved"):
        psam_content(des, extra_keys=[reserved])
    taken = KeyRecord(KeyType.ENCRYPTION, 3, 0x08, KeyAlgorithm.TDES, bytes(16))
    with pytest.raises(PsamError, match="exists"):
        psam_content(des, extra_keys=[taken])
    sm4_key = KeyRecord(KeyType.MAC, 1, 0x5D, KeyAlgorithm.SM4, bytes(16))
    with pytest.raises(PsamError, match="environment"):
        psam_content(des, extra_keys=[sm4_key])
