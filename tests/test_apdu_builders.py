"""Every builder gives the header bytes of Part 5 / Part 9 and the spec's example APDUs."""

from __future__ import annotations

import datetime

import pytest

from sbkcard.apdu import builders as b
from sbkcard.apdu.builders import (
    Balance,
    BuilderError,
    CipherMode,
    PsamKeyAlgorithm,
    RecordMode,
)
from sbkcard.apdu.command import Case, CommandAPDU

MAC = bytes.fromhex("11223344")
R8 = bytes.fromhex("1122334455667788")
WHEN = datetime.datetime(2024, 3, 1, 9, 30, 5)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (builder call, the wire bytes as the standard writes them)
SPEC_EXAMPLES: list[tuple[CommandAPDU, str]] = [
    # Part 3 §6.4: SELECT the SSSE by name, Le 00 per Part 5 table 34.
    (b.select_ssse(), "00A404000F 7378312E73682EC9E7BBE1B1A3D5CF 00"),
    (
        b.select_by_name(b.SSSE_NAME, next_occurrence=True),
        "00A404020F 7378312E73682EC9E7BBE1B1A3D5CF 00",
    ),
    (b.select_ef(0xEF05), "00A4020002 EF05"),
    (b.select_ef(b"\xef\x06"), "00A4020002 EF06"),
    (b.select_mf(), "00A4000002 3F00 00"),
    (b.select_by_name(b.PSAM_ADF_AID), "00A4040006 D15600000590 00"),
    # Part 5 §6.10: READ RECORD by SFI, and read-all from P1 to the last record.
    (b.read_record(7, sfi=5, le=0x0B), "00B2072C0B"),
    (b.read_record(1, mode=RecordMode.FROM_RECORD_TO_LAST, le=0x40), "00B2010540"),
    (b.read_record(0x4E, sfi=6, mode=RecordMode.FIRST_OCCURRENCE), "00B24E3000"),
    (b.read_record(3, mode=RecordMode.FROM_LAST_TO_RECORD), "00B2030600"),
    # Part 5 table 29: READ BINARY by SFI (100 SFI) or 15-bit offset.
    (b.read_binary(sfi=7), "00B0870000"),
    (b.read_binary(sfi=8, offset=0x10, le=0x80), "00B0881080"),
    (b.read_binary(offset=0x0300, le=0x20), "00B0030020"),
    (b.update_binary(b"\x01\x02", sfi=7, offset=4), "00D68704020102"),
    (b.update_binary(b"\xaa", offset=0x7FFF), "00D67FFF01AA"),
    (b.update_record(0x03, h("0304 33303030"), sfi=5), "00DC032C06 030433303030"),
    (b.update_record(0x4E, h("4E0100"), mode=RecordMode.LAST_OCCURRENCE), "00DC4E0103 4E0100"),
    # Part 5 §6.14, §6.3: VERIFY 123456, empty VERIFY; CHANGE PIN old ‖ FF ‖ new.
    (b.verify("123456"), "0020000003123456"),
    (b.verify("12345"), "002000000312345F"),
    (b.verify(None), "00200000"),
    (b.change_pin("123456", "654321"), "805E010007 123456 FF 654321"),
    (b.change_pin(None, "1234"), "805E010003 FF 1234"),
    (
        b.change_pin("1234567890123456", "1234567890123456"),
        "805E010011 1234567890123456 FF 1234567890123456",
    ),
    # Part 5 §6.8 / S3 §8.25: PIN reload (DES) and unblock.
    (b.pin_reload(h("3CE013167A69889E"), h("3EC87CA5")), "842400010C 3CE013167A69889E 3EC87CA5"),
    (b.pin_unblock(MAC), "8424000004 11223344"),
    (b.get_challenge(4), "0084000004"),
    (b.get_challenge(8), "0084000008"),
    (b.get_challenge(16), "0084000010"),
    # Part 5 §6.4 (a real SM4 card's trace): external authentication with RKSSSE (KID 0A).
    (
        b.external_authenticate(0x0A, h("774A08EDF447A1DE"), h("E603E2CAADAF02B6")),
        "008200 0A 10 774A08EDF447A1DE E603E2CAADAF02B6",
    ),
    # S3 §8.25: external authentication with key 06.
    (
        b.external_authenticate(b.key_id(6), h("eab79df1f8396cac"), h("0800000000000000")),
        "0082000610 eab79df1f8396cac 0800000000000000",
    ),
    (
        b.external_authenticate(b.key_id(2, local=True), R8, R8, version=2),
        "0082008211 1122334455667788 1122334455667788 02",
    ),
    # Part 5 §6.7 (a real SM4 card's trace) with the table-22 Le 00.
    (
        b.internal_authenticate(h("32D9E876ADB31BBF"), h("DBF7A936D0D18C9E")),
        "0088000010 32D9E876ADB31BBF DBF7A936D0D18C9E 00",
    ),
    (b.internal_authenticate(R8, R8, version=3), "0088000011" + R8.hex() * 2 + "03 00"),
    (b.get_response(0x1E), "00C000001E"),
    (b.get_response(256), "00C0000000"),
    (b.application_block(MAC), "841E000104 11223344"),
    (b.card_block(MAC), "8416000004 11223344"),
    # Part 5 §7: the medical purse.
    (b.initialize_for_load(1, 10000, "371700000001"), "B02800010B 01 00002710 371700000001 10"),
    (
        b.initialize_for_purchase(1, 1500, 200, 3000, h("371700000001")),
        "B028010113 01 000005DC 000000C8 00000BB8 371700000001 16",
    ),
    (b.credit_for_load(WHEN, MAC), "B02A00000B 20240301093005 11223344 04"),
    (b.debit_for_purchase(0x12, WHEN, MAC), "B02C01000F 00000012 20240301093005 11223344 08"),
    (b.get_balance(), "B026000104"),
    (b.get_balance(Balance.SPIP), "B026000206"),
    (b.get_balance(Balance.SPFP), "B026000306"),
    (b.get_transaction_proof(0x06, 0x0102), "B02E000602 0102 08"),
    (b.update_starting_day(1, 1), "B056000002 0101"),
    (b.update_starting_day(12, 31), "B056000002 1231"),
    (b.get_starting_day(), "B056010002"),
    # Part 9 §9: the PSAM.
    (b.initialize_environment(0x37), "BFEC000001 37"),
    (
        b.delivery_session_key(0x48, 0x5D, [h("86605199000001AC"), b"371700sx"], R8),
        "BFDE485D18 86605199000001AC 3337313730307378 1122334455667788",
    ),
    (b.delivery_session_key(0x08, 0x01, [], bytes(16)), "BFDE080110" + "00" * 16),
    (b.cipher_data(CipherMode.ENCRYPT_LAST, R8), "80FA000008 1122334455667788"),
    (b.cipher_data(CipherMode.MAC_SINGLE, bytes(16), le=4), "80FA050010" + "00" * 16 + "04"),
    (b.get_response(8), "00C0000008"),
    (
        b.external_authenticate(0x07, h("A1A2A3A4A5A6A7A8"), R8),
        "0082000710 A1A2A3A4A5A6A7A8 1122334455667788",
    ),
    (
        b.init_sam_for_purchase(
            card_random=h("0A0B0C0D"),
            card_sequence=5,
            account=1500,
            self_paid=200,
            pooled=3000,
            transaction_type=0x06,
            time=WHEN,
            key_version=1,
            algorithm=0x03,
            factors=[h("86605199000001AC"), b"371700sx", b"370000sh"],
        ),
        "8070010034 0A0B0C0D 0005 000005DC 000000C8 00000BB8 06 20240301 093005 01 03"
        " 86605199000001AC 3337313730307378 3337303030307368 08",
    ),
    (b.credit_sam_for_purchase(MAC), "8072000004 11223344"),
    (b.create_key(0x11, bytes(24), MAC), "84D400111C" + "00" * 24 + "11223344"),
    (b.create_key(0x12, bytes(32), MAC), "84D4001224" + "00" * 32 + "11223344"),
    (b.change_key(0x13, bytes(16), MAC), "84D4011314" + "00" * 16 + "11223344"),
]


@pytest.mark.parametrize(("cmd", "wire"), SPEC_EXAMPLES, ids=[w[:10] for _, w in SPEC_EXAMPLES])
def test_spec_examples_byte_exact(cmd: CommandAPDU, wire: str) -> None:
    assert bytes(cmd) == bytes.fromhex(wire)
    assert CommandAPDU.from_bytes(bytes(cmd)) == cmd


# Part 5 and Part 9 §9: CLA INS P1 P2 of every command, written out as in the spec tables.
HEADERS: list[tuple[CommandAPDU, str]] = [
    (b.select_by_name(b.SSSE_NAME), "00A40400"),
    (b.select_by_fid(0xDF01), "00A40000"),
    (b.select_ef(0xEF05), "00A40200"),
    (b.read_binary(sfi=0x1F - 1), "00B09E00"),
    (b.update_binary(b"x", sfi=1), "00D68100"),
    (b.read_record(1, sfi=30, mode=RecordMode.LAST_OCCURRENCE), "00B201F1"),
    (b.update_record(1, b"x", sfi=30), "00DC01F4"),
    (b.verify("1234"), "00200000"),
    (b.change_pin("1234", "5678"), "805E0100"),
    (b.pin_unblock(), "84240000"),
    (b.pin_reload(b.encode_pin("123456")), "84240001"),
    (b.get_challenge(), "00840000"),
    (b.external_authenticate(0x84, R8, R8), "00820084"),
    (b.internal_authenticate(R8, R8), "00880000"),
    (b.get_response(1), "00C00000"),
    (b.application_block(), "841E0001"),
    (b.card_block(), "84160000"),
    (b.initialize_for_load(1, 0, "000000000000"), "B0280001"),
    (b.initialize_for_purchase(1, 0, 0, 0, "000000000000"), "B0280101"),
    (b.credit_for_load(bytes(7), MAC), "B02A0000"),
    (b.debit_for_purchase(0, bytes(7), MAC), "B02C0100"),
    (b.get_balance(Balance.CIA), "B0260001"),
    (b.get_transaction_proof(2, 1), "B02E0002"),
    (b.update_starting_day(7, 1), "B0560000"),
    (b.get_starting_day(), "B0560100"),
    (b.initialize_environment(0), "BFEC0000"),
    (b.delivery_session_key(0x26, 0x09, [R8], R8), "BFDE2609"),
    (b.cipher_data(CipherMode.MAC_FIRST, bytes(16)), "80FA0700"),
    (b.cipher_data(CipherMode.MAC_NEXT, bytes(8)), "80FA0300"),
    (b.cipher_data(CipherMode.MAC_LAST, bytes(8)), "80FA0100"),
    (b.cipher_data(CipherMode.ENCRYPT_MORE, bytes(8)), "80FA0200"),
    (b.credit_sam_for_purchase(MAC), "80720000"),
    (b.create_key(0x11, b.create_key_record(0x26, 0x09, PsamKeyAlgorithm.DES, R8)), "84D40011"),
    (b.change_key(0x12, b.change_key_record(0x26, 0x09, bytes(16))), "84D40112"),
]


@pytest.mark.parametrize(("cmd", "header"), HEADERS, ids=[hd for _, hd in HEADERS])
def test_headers(cmd: CommandAPDU, header: str) -> None:
    assert cmd.header == bytes.fromhex(header)


def test_mac_less_sm_commands_wait_for_wrapping() -> None:
    assert b.application_block().case is Case.NO_DATA_NO_LE
    assert b.pin_reload(b.encode_pin("123456")).data == h("123456")
    assert b.pin_reload(b"").data == b""


def test_key_ids() -> None:
    assert b.key_id(0) == 0x00
    assert b.key_id(0x0A) == 0x0A
    assert b.key_id(2, local=True) == 0x82
    assert b.key_id(4, local=True) == 0x84
    with pytest.raises(BuilderError, match="key number"):
        b.key_id(0x20)


def test_record_mode_bits() -> None:
    assert [m.value for m in RecordMode] == [0, 1, 2, 3, 4, 5, 6]
    assert RecordMode.NEXT_OCCURRENCE.by_identifier
    assert not RecordMode.RECORD.by_identifier
    assert b.record_p2(None, RecordMode.RECORD) == 0x04
    assert b.record_p2(5, RecordMode.RECORD) == 0x2C


def test_cipher_modes() -> None:
    assert [m.value for m in CipherMode] == [0x00, 0x01, 0x02, 0x03, 0x05, 0x07]
    assert {m for m in CipherMode if m.is_mac} == {
        CipherMode.MAC_LAST,
        CipherMode.MAC_NEXT,
        CipherMode.MAC_SINGLE,
        CipherMode.MAC_FIRST,
    }


def test_pin_encoding() -> None:
    assert b.encode_pin("1234") == h("1234")
    assert b.encode_pin("123456789") == h("123456789F")
    for bad in ("123", "12345678901234567", "12a4", "１２３４", ""):
        with pytest.raises(BuilderError, match="PIN"):
            b.encode_pin(bad)


def test_key_records() -> None:
    record = b.create_key_record(0x26, 0x09, PsamKeyAlgorithm.TRIPLE_DES, bytes(range(16)))
    assert record == h("26090000 00000000") + bytes(range(16))
    assert b.create_key_record(0x22, 0x01, PsamKeyAlgorithm.DES, R8)[:8] == h("2201000100000000")
    assert b.change_key_record(0x26, 0x09, R8) == h("260900") + R8


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: b.select_by_name(b"abcd"), "DF name"),
        (lambda: b.read_binary(sfi=31), "sfi"),
        (lambda: b.read_binary(sfi=0), "sfi"),
        (lambda: b.read_binary(sfi=1, offset=256), "offset"),
        (lambda: b.read_binary(offset=0x8000), "offset"),
        (lambda: b.read_binary(le=0), "le"),
        (lambda: b.read_record(0xFF), "record"),
        (lambda: b.update_record(1, b"x", mode=RecordMode.FROM_RECORD_TO_LAST), "no mode"),
        (lambda: b.update_record(1, b""), "record must be"),
        (lambda: b.update_binary(b""), "data"),
        (lambda: b.change_pin(None, None), "at least one"),
        (lambda: b.pin_reload(bytes(7), MAC), "pin_data"),
        (lambda: b.pin_reload(bytes(9)), "clear pin_data"),
        (lambda: b.application_block(b"\x00"), "mac"),
        (lambda: b.get_challenge(5), "4, 8 or 16"),
        (lambda: b.external_authenticate(0x100, R8, R8), "kid"),
        (lambda: b.external_authenticate(0, R8[:7], R8), "authentication data"),
        (lambda: b.internal_authenticate(R8, R8, version=256), "key version"),
        (lambda: b.initialize_for_load(1, -1, "000000000000"), "amount"),
        (lambda: b.initialize_for_load(1, 0, "00000000000X"), "terminal"),
        (lambda: b.debit_for_purchase(1 << 32, WHEN, MAC), "terminal_seq"),
        (lambda: b.credit_for_load(bytes(6), MAC), "host_time"),
        (lambda: b.update_starting_day(2, 30), "starting day"),
        (lambda: b.update_starting_day(13, 1), "month"),
        (lambda: b.delivery_session_key(0x48, 0x5D, [R8] * 4, R8), "factors"),
        (lambda: b.delivery_session_key(0x48, 0x5D, [R8], R8[:4]), "session_input"),
        (lambda: b.cipher_data(CipherMode.ENCRYPT_LAST, bytes(7)), "whole blocks"),
        (lambda: b.cipher_data(CipherMode.ENCRYPT_LAST, bytes(136)), "whole blocks"),
        (lambda: b.create_key(0x11, bytes(20), MAC), "whole blocks"),
        (lambda: b.create_key_record(0x26, 9, PsamKeyAlgorithm.DES, bytes(16)), "key"),
        (
            lambda: b.init_sam_for_purchase(
                card_random=bytes(4),
                card_sequence=0,
                account=0,
                self_paid=0,
                pooled=0,
                transaction_type=6,
                time=WHEN,
                key_version=1,
                algorithm=3,
                factors=[],
            ),
            "factors",
        ),
    ],
)
def test_bad_arguments_are_named(call: object, words: str) -> None:
    with pytest.raises(BuilderError, match=words):
        call()  # type: ignore[operator]
