"""Command-level behaviour of the user card, status word by status word (Part 5; SPEC §3)."""

from __future__ import annotations

import pytest
from test_card_driver import DF_AIDS, SSSE_AID, Driver, fixture_driver  # noqa: F401

from sbkcard.applet_model.records import Cardholder, IssuerData
from sbkcard.applet_model.user_card import SECOND_GENERATION, THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_MEDICAL,
)
from sbkcard.keys import auth_data, session_key

# -- T=0, GET RESPONSE, malformed commands ------------------------------------------------


def test_select_by_name_answers_61_1e_then_get_response_gives_the_fci(driver: Driver) -> None:
    data, sw = driver.raw(b"\x00\xa4\x04\x00\x0f" + SSSE_AID + b"\x00")
    assert (data, sw) == (b"", 0x611E)
    fci, sw = driver.raw("00C000001E")
    assert sw == 0x9000 and fci[:4] == bytes.fromhex("6F1C840F")
    assert driver.raw("00C000001E") == (b"", 0x6F00)  # consumed


def test_get_response_wrong_le_is_6cxx_and_a_short_le_chains_61xx(driver: Driver) -> None:
    driver.raw(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)
    assert driver.raw("00C0000000") == (b"", 0x6C1E)
    assert driver.raw("00C0000020") == (b"", 0x6C1E)
    head, sw = driver.raw("00C0000010")
    assert sw == 0x610E and len(head) == 0x10
    tail, sw = driver.raw("00C000000E")
    assert sw == 0x9000 and head + tail == driver.select_ssse()


def test_get_response_is_only_good_right_after_61xx(driver: Driver) -> None:
    driver.raw(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)
    driver.raw("00840000 04")
    assert driver.raw("00C000001E") == (b"", 0x6F00)
    assert driver.raw("00C0010000") == (b"", 0x6A86)


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00", 0x6700),
        ("00A404", 0x6700),
        ("00A40400FF", 0x6700),
        ("00B2010500000001", 0x6700),
        ("00A404000F00", 0x6700),
        ("10A4040000", 0x6E00),
        ("00FE000000", 0x6D00),
        ("0024000000", 0x6E00),
        ("8024000004AABBCCDD", 0x6987),
        ("801E000104AABBCCDD", 0x6987),
        ("00E0000001FF", 0x6E00),
    ],
)
def test_malformed_unknown_class_and_instruction(driver: Driver, apdu: str, sw: int) -> None:
    driver.select_ssse()
    assert driver.sw(apdu) == sw


# -- SELECT ---------------------------------------------------------------------------------


def test_select_application_dfs_by_aid_and_fid(driver: Driver) -> None:
    driver.select_ssse()
    for name, aid in DF_AIDS.items():
        fci = driver.ok(b"\x00\xa4\x04\x00\x06" + aid)
        assert fci == b"\x6f\x08\x84\x06" + aid
        assert driver.card.session.df == f"SSSE/{name}"
    driver.select_ssse()
    assert driver.ok("00A4000002DF04") == b"\x6f\x08\x84\x06" + DF_AIDS["DF04"]
    assert driver.ok("00A4000002DF01") == b"\x6f\x08\x84\x06" + DF_AIDS["DF01"]  # a sibling
    assert driver.ok("00A40200 02 EF05") == b""
    assert driver.card.session.ef == "SSSE/DF01/EF05"
    assert driver.ok("00A40000023F00") == b""
    assert driver.card.session.df == "MF"


def test_select_partial_name_walks_every_application(driver: Driver) -> None:
    rid = bytes.fromhex("D156000005")
    found = [driver.ok(b"\x00\xa4\x04\x00\x05" + rid)[4:]]
    while True:
        data, sw = driver.send(b"\x00\xa4\x04\x02\x05" + rid)
        if sw != 0x9000:
            assert sw == 0x6A82
            break
        found.append(data[4:])
    assert found == list(DF_AIDS.values())


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00A404000F" + "00" * 15, 0x6A82),
        ("00A4040004D1560000", 0x6700),
        ("00A4020002EF99", 0x6A82),
        ("00A4020001EF", 0x6700),
        ("00A4010002DF01", 0x6A86),
        ("00A4000102DF01", 0x6A86),
        ("00A4000202DF01", 0x6A86),
        ("00A4000003DF0100", 0x6700),
    ],
)
def test_select_errors(driver: Driver, apdu: str, sw: int) -> None:
    driver.select_ssse()
    assert driver.sw(apdu) == sw


def test_selecting_another_df_clears_key_authentication_but_not_the_pin(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.verify() == 0x9000
    assert driver.authenticate("RKSSSE") == 0x9000
    driver.select_ssse()  # the same DF again: kept
    assert driver.session_has("RKSSSE")
    driver.select_df("DF04")
    assert not driver.session_has("RKSSSE")
    assert driver.card.session.pin_ok == {"SSSE"}
    assert driver.read(1, 0x2C)[1] == 0x9000  # DF04 EF05 with the PIN


# -- READ RECORD ----------------------------------------------------------------------------


def test_read_issuer_data_record_by_record_and_all_at_once(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.raw("00B2012C00") == (b"", 0x6C12)
    body = b""
    for number in range(1, 8):
        _, sw = driver.raw(bytes((0x00, 0xB2, number, 0x2C, 0x00)))
        record, sw = driver.raw(bytes((0x00, 0xB2, number, 0x2C, sw & 0xFF)))
        assert sw == 0x9000 and record[0] == number  # EF05: record number = tag
        body += record
    assert len(body) == 0x40
    assert driver.raw("00B2012D00") == (b"", 0x6C40)
    assert driver.ok("00B2012D40") == body
    issuer = IssuerData.decode(body)
    assert issuer.card_number == DEMO_CARD_NUMBER
    assert issuer.version == driver.profile.version
    assert driver.raw("00B2082C00") == (b"", 0x6A83)


def test_read_record_le_shorter_than_the_record_gives_its_start(driver: Driver) -> None:
    driver.select_ssse()
    data = driver.ok("00B2072C0B")  # S8: the card number record
    assert data == b"\x07\x09" + DEMO_CARD_NUMBER.encode()
    assert driver.ok("00B2012C04") == bytes.fromhex("01104101")


def test_cardholder_on_a_2_00_card_is_free_and_on_3_00_needs_rkssse() -> None:
    gen2 = Driver(SECOND_GENERATION)
    gen2.select_ssse()
    body = gen2.ok("00B201355B")
    assert Cardholder.decode(body) == DEMO_CARDHOLDER
    assert gen2.ok("00B2033503")[0] == 0x4E  # positional: record #3 is the name extension
    gen3 = Driver(THIRD_GENERATION)
    gen3.select_ssse()
    assert gen3.sw("00B201355B") == 0x6982
    assert gen3.authenticate("RKSSSE") == 0x9000
    assert Cardholder.decode(gen3.ok("00B201355B")) == DEMO_CARDHOLDER


def test_read_record_by_identifier_and_the_record_pointer(driver: Driver) -> None:
    driver.select_ssse()
    driver.ok("00A4020002EF05")

    def tag(p1: int, p2: int) -> int:
        data, sw = driver.read(p1, p2)
        assert sw == 0x9000
        return data[0]

    assert tag(0x07, 0x00) == 0x07  # first occurrence of identifier 07
    assert driver.card.session.record == 6
    assert tag(0x00, 0x04) == 0x07  # P1 = 00: the current record
    assert tag(0x03, 0x04) == 0x03  # by number: the pointer does not move
    assert tag(0x00, 0x03) == 0x06  # previous record, any identifier
    assert tag(0x00, 0x02) == 0x07  # next record, any identifier
    assert driver.read(0x00, 0x02) == (b"", 0x6A83)  # nothing after the last
    assert tag(0x00, 0x01) == 0x07  # last record, any identifier
    assert tag(0x00, 0x00) == 0x01  # first record, any identifier
    assert tag(0x02, 0x02) == 0x02  # next occurrence of 02 after record 1
    assert driver.read(0x02, 0x02) == (b"", 0x6A83)
    assert driver.read(0x09, 0x00) == (b"", 0x6A83)
    forward, _ = driver.read(0x05, 0x05)
    backward, _ = driver.read(0x05, 0x06)
    assert [forward[0], backward[0]] == [0x05, 0x07]
    assert len(forward) == len(backward) == 6 + 6 + 11


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00B2013F00", 0x6A86),  # mode 111
        ("00B201FC00", 0x6A86),  # SFI 1F
        ("00B2016400", 0x6A82),  # SFI 0C: no such file
        ("00B2013C00", 0x6981),  # SFI 07: transparent
        ("00B2010400", 0x6986),  # no current EF
        ("00B2010C0100", 0x6700),  # data in a case-2 command
    ],
)
def test_read_record_errors(driver: Driver, apdu: str, sw: int) -> None:
    driver.select_ssse()
    assert driver.sw(apdu) == sw


# -- READ / UPDATE BINARY -------------------------------------------------------------------


def test_fingerprint_file_reads_after_rkssse_and_writes_after_ukssse(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.sw("00B0870000") == 0x6982
    assert driver.sw("00D6870002AABB") == 0x6982
    assert driver.authenticate("UKSSSE") == 0x9000
    assert driver.sw("00D6870002AABB") == 0x9000
    assert driver.sw("00D602FF02AABB") == 0x6700  # past the end (0x300 bytes)
    assert driver.sw("00D6030001AA") == 0x6B00
    assert driver.authenticate("RKSSSE") == 0x9000
    assert driver.ok("00B0870000")[:3] == b"\xaa\xbb\x00"
    assert len(driver.ok("00B0000000")) == 256
    assert len(driver.ok("00B0020000")) == 256
    assert driver.raw("00B002F020") == (b"", 0x6C10)
    assert driver.sw("00B0030000") == 0x6B00
    assert driver.sw("00B0A70000") == 0x6A86
    assert driver.sw("00B0850000") == 0x6981  # EF05 holds records


def test_update_binary_with_secure_messaging(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.authenticate("UKSSSE") == 0x9000
    apdu = driver.secured(b"\x04\xd6\x87\x10", b"\x11\x22", "STKSSSE")
    assert driver.sw(apdu) == 0x9000
    bad = bytearray(driver.secured(b"\x04\xd6\x87\x10", b"\x11\x22", "STKSSSE"))
    bad[-1] ^= 1
    assert driver.sw(bytes(bad)) == 0x6988
    assert driver.sw("04D6871006112233445566") == 0x6984  # no challenge
    assert driver.sw("04D6871003112233") == 0x6987  # too short for a MAC


# -- UPDATE RECORD --------------------------------------------------------------------------


def test_update_record_rules(driver: Driver) -> None:
    driver.select_ssse()
    record = b"\x07\x09" + b"B00000019"
    assert driver.sw(b"\x00\xdc\x07\x2c\x0b" + record) == 0x6982
    assert driver.authenticate("UKSSSE") == 0x9000
    assert driver.sw(b"\x00\xdc\x07\x2c\x0b" + record) == 0x9000
    assert driver.ok("00B2072C0B") == record
    assert driver.sw(b"\x00\xdc\x07\x28\x0b" + record) == 0x9000  # by identifier 07
    assert driver.sw(b"\x00\xdc\x06\x28\x0b" + record) == 0x6A80  # identifier ≠ tag
    assert driver.sw("00DC072C03070200") == 0x6A85  # not one TLV record
    assert driver.sw(b"\x00\xdc\x09\x2c\x0b" + record) == 0x6A83  # beyond the end
    extra = b"\x7a\x09" + bytes(9)
    assert driver.sw(b"\x00\xdc\x08\x2c\x0b" + extra) == 0x6A84  # EF05 is full
    assert driver.sw("00DC072F0B" + record.hex()) == 0x6A86


def test_transaction_log_is_never_writable_and_cyclic_files_prepend(driver: Driver) -> None:
    driver.select_df("DF04")
    assert driver.verify() == 0x9000
    assert driver.authenticate("UK2DF04") == 0x9000
    log_record = bytes(0x1C)
    assert driver.sw(b"\x00\xdc\x00\x43\x1c" + log_record) == 0x6982
    for seq in (1, 2, 3):
        special = seq.to_bytes(2, "big") + b"1"
        assert driver.sw(b"\x00\xdc\x00\xab\x03" + special) == 0x9000  # SFI 15, previous
    assert driver.ok("00B201AC03") == b"\x00\x03\x31"  # newest is record #1
    assert driver.ok("00B201AD09") == bytes.fromhex("000331 000231 000131")
    assert driver.sw("00DC01AC020000") == 0x6700  # fixed length 3
    assert driver.sw(b"\x00\xdc\x02\xac\x03\x00\x09\x32") == 0x9000
    assert driver.ok("00B202AC03") == b"\x00\x09\x32"


# -- PIN --------------------------------------------------------------------------------------


def test_verify_counts_down_blocks_and_tells_tries_left(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.sw("0020000000") == 0x63C3
    assert driver.verify("654321") == 0x63C2
    assert driver.sw("0020000000") == 0x63C2
    assert driver.verify() == 0x9000
    assert driver.sw("0020000000") == 0x63C3
    for left in (2, 1, 0):
        assert driver.verify("111111") == 0x63C0 | left
    assert driver.verify() == 0x6983
    assert driver.sw("0020000000") == 0x63C0


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("0020000001 12", 0x6700),
        ("0020000009 123456789012345678", 0x6700),
        ("00200000 03 12345A", 0x6A80),
        ("00200100 03 123456", 0x6A86),
        ("00200001 03 123456", 0x6A86),
    ],
)
def test_verify_errors_do_not_cost_a_try(driver: Driver, apdu: str, sw: int) -> None:
    driver.select_ssse()
    assert driver.sw(apdu) == sw
    assert driver.sw("0020000000") == 0x63C3


@pytest.mark.parametrize("apdu", ["00200000 02 123F", "00200000 02 987F"])
def test_verify_of_a_short_pin_is_a_wrong_pin(driver: Driver, apdu: str) -> None:
    """Part 5 §6.14.5: a well-formed PIN that does not match answers 63Cx (table 48 has
    no 6A80), even when shorter than the 4 digits CHANGE PIN asks for (§6.3.1)."""
    driver.select_ssse()
    assert driver.sw(apdu) == 0x63C2
    assert driver.sw("0020000000") == 0x63C2
    assert driver.verify() == 0x9000


def test_change_pin(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.sw("805E0100 07 123456 FF 987654") == 0x9000
    assert driver.verify("123456") == 0x63C2
    assert driver.verify("987654") == 0x9000
    assert driver.sw("805E0100 07 111111 FF 123456") == 0x63C2
    assert driver.sw("805E0100 06 987654 123456") == 0x6A80
    assert driver.sw("805E0000 07 987654 FF 123456") == 0x6A86
    assert driver.sw("805E0100 02 98FF") == 0x6700


def _block_pin(driver: Driver) -> None:
    driver.select_ssse()
    for _ in range(3):
        driver.verify("000000")
    assert driver.verify() == 0x6983


def test_pin_unblock_needs_puk_and_a_stk_mac(driver: Driver) -> None:
    _block_pin(driver)
    unblock = driver.secured(b"\x84\x24\x00\x00", b"", "STKSSSE")
    assert driver.sw(unblock) == 0x6982
    assert driver.authenticate("PUK") == 0x9000
    bad = bytearray(driver.secured(b"\x84\x24\x00\x00", b"", "STKSSSE"))
    bad[-2] ^= 0x40
    assert driver.sw(bytes(bad)) == 0x6988
    assert driver.sw(driver.secured(b"\x84\x24\x00\x00", b"", "STKSSSE")) == 0x9000
    assert driver.verify() == 0x9000


def test_pin_reload_sets_an_encrypted_new_pin(driver: Driver) -> None:
    _block_pin(driver)
    assert driver.authenticate("PUK") == 0x9000
    reload = driver.secured(b"\x84\x24\x00\x01", b"", "STKSSSE", enc=bytes.fromhex("654321"))
    assert len(reload) == 5 + (0x0C if driver.algorithm.block_size == 8 else 0x14)
    assert driver.sw(reload) == 0x9000
    assert driver.verify("123456") == 0x63C2
    assert driver.verify("654321") == 0x9000
    assert driver.sw("8424000204AABBCCDD") == 0x6A86
    assert driver.sw("8424000105AABBCCDDEE") == 0x6700


# -- authentication ---------------------------------------------------------------------------


def test_get_challenge_lengths(driver: Driver) -> None:
    for length in (4, 8, 16):
        assert len(driver.challenge(length)) == length
    assert driver.sw("0084000005") == 0x6700
    assert driver.sw("00840000") == 0x6700
    assert driver.sw("0084010008") == 0x6A86


def test_external_authentication_counts_locks_and_uses_a_challenge_once(driver: Driver) -> None:
    driver.select_ssse()
    challenge = driver.challenge()
    good = driver.auth_apdu("RKSSSE", challenge)
    assert driver.sw(good) == 0x9000
    assert driver.sw(good) == 0x6984  # the challenge is spent
    wrong = bytes(16)
    assert driver.authenticate("RKSSSE", key=wrong) == 0x63C2
    assert driver.authenticate("RKSSSE", key=wrong) == 0x63C1
    assert driver.authenticate("RKSSSE") == 0x9000  # a success resets the counter
    for left in (2, 1, 0):
        assert driver.authenticate("RKSSSE", key=wrong) == 0x63C0 | left
    assert driver.authenticate("RKSSSE") == 0x6983
    # Part 7 §6.6: the counter is checked first; a locked key is 6983 without a challenge too
    assert driver.sw(driver.auth_apdu("RKSSSE", challenge)) == 0x6983
    driver.challenge()
    assert driver.sw(good) == 0x6983
    assert driver.authenticate("UKSSSE") == 0x9000  # other keys are not locked
    assert driver.sw(driver.auth_apdu("UKSSSE", challenge)) == 0x6984  # nor is the challenge
    assert driver.sw("0082000B1000000000000000000000000000000000") == 0x6A88
    assert driver.sw("0082010A1000000000000000000000000000000000") == 0x6A86
    assert driver.sw("0082000A0F000000000000000000000000000000") == 0x6700


def test_external_authentication_with_a_key_version(driver: Driver) -> None:
    driver.select_ssse()
    for version, sw in ((0x01, 0x9000), (0x02, 0x6A88)):
        apdu = driver.auth_apdu("UKSSSE", driver.challenge())
        assert driver.sw(apdu[:4] + b"\x11" + apdu[5:] + bytes((version,))) == sw


def test_lock_keys_do_not_lock(driver: Driver) -> None:
    driver.select_ssse()
    for _ in range(5):
        assert driver.authenticate("BK", key=bytes(16)) == 0x6300
    assert driver.authenticate("BK") == 0x9000


def test_internal_authentication_with_the_irk(driver: Driver) -> None:
    driver.select_ssse()
    r1, r2 = bytes.fromhex("32D9E876ADB31BBF"), bytes.fromhex("DBF7A936D0D18C9E")
    data, sw = driver.raw(b"\x00\x88\x00\x00\x10" + r1 + r2 + b"\x00")
    assert (data, sw) == (b"", 0x6108)
    answer = driver.ok("00C0000008")
    sk = session_key(driver.key("IRK"), r1, driver.algorithm)
    assert answer == auth_data(sk, r2, driver.algorithm)
    assert driver.sw(b"\x00\x88\x00\x0a\x10" + r1 + r2) == 0x6A88  # RKSSSE is not an IRK
    assert driver.sw(b"\x00\x88\x00\x00\x11" + r1 + r2 + b"\x07") == 0x6A88


# -- blocking ---------------------------------------------------------------------------------


def test_application_block(driver: Driver) -> None:
    driver.select_df("DF04")
    block = driver.secured(b"\x84\x1e\x00\x01", b"", "STKDF04")
    assert driver.sw(block) == 0x6982  # needs LKDF04
    assert driver.authenticate("LKDF04") == 0x9000
    assert driver.sw(driver.secured(b"\x84\x1e\x00\x01", b"", "STKDF04")) == 0x9000
    assert driver.sw("00B2010400") == 0x9303
    assert driver.sw("00FF000000") == 0x9303
    # Part 7 §13.2: every command but the SELECT of another application answers 9303
    assert driver.sw("00A4020002EF05") == 0x9303  # an EF inside the blocked application
    assert driver.sw("00A4000002EF05") == 0x9303
    assert driver.sw("00A4000002EF99") == 0x9303  # not found: still 9303
    assert driver.sw("00A4010002EF05") == 0x9303  # wrong P1: still 9303
    assert driver.sw("841E000104 00000000") == 0x9303  # APPLICATION BLOCK again too
    assert driver.sw("00C0000010") == 0x9303
    assert driver.sw("00B2010400") == 0x9303  # the EF was not selected
    assert driver.select_df("DF04") == 0x9303
    assert driver.select_df("DF01") == 0x9000
    assert driver.select_df("DF04") == 0x9303
    driver.card.power_on()
    assert driver.select_df("DF04") == 0x9303
    assert driver.select_df("SSSE") == 0x9000


def test_card_block_answers_6a81_to_everything_forever(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.sw(driver.secured(b"\x84\x16\x00\x00", b"", "STKSSSE")) == 0x6982
    assert driver.authenticate("BK") == 0x9000
    assert driver.sw(driver.secured(b"\x84\x16\x00\x00", b"", "STKSSSE")) == 0x9000
    for apdu in ("00A404000F" + SSSE_AID.hex(), "0084000008", "00", "FFFFFFFF"):
        assert driver.sw(apdu) == 0x6A81
    driver.card.power_on()
    assert driver.sw("00A40000023F00") == 0x6A81


def test_block_commands_check_p1_p2_and_length(driver: Driver) -> None:
    driver.select_ssse()
    assert driver.sw("841E000004AABBCCDD") == 0x6A86
    assert driver.sw("841E000103AABBCC") == 0x6700
    assert driver.sw("8416000104AABBCCDD") == 0x6A86
    driver.ok("00A40000023F00")
    assert driver.sw("841E000104AABBCCDD") == 0x6985  # the MF is no application


def test_medical_file_access_on_df04(driver: Driver) -> None:
    from sbkcard.applet_model.records import MedicalInsurance

    driver.select_df("DF04")
    assert driver.sw("00B2012C00") == 0x6982
    assert driver.verify() == 0x9000
    _, sw = driver.raw("00B2012D00")
    body = driver.ok(bytes.fromhex("00B2012D") + bytes((sw & 0xFF,)))
    assert MedicalInsurance.decode(body) == DEMO_MEDICAL
    assert driver.sw("00B2013400") == 0x6982  # EF06: PIN and RK1DF04
    assert driver.authenticate("RK1DF04") == 0x9000
    assert driver.sw("00B2013400") >> 8 == 0x6C


def test_change_pin_on_a_blocked_pin_is_6983(driver: Driver) -> None:
    _block_pin(driver)
    assert driver.sw("805E0100 07 123456 FF 987654") == 0x6983


def test_pin_reload_refuses_ciphertext_that_is_no_pin(driver: Driver) -> None:
    driver.select_ssse()
    size = driver.algorithm.block_size
    assert driver.authenticate("PUK") == 0x9000
    garbage = driver.secured(b"\x84\x24\x00\x01", bytes(size), "STKSSSE")
    assert driver.sw(garbage) == 0x6A80  # MAC right, plaintext no LD ‖ PIN ‖ 80 00…
    letters = driver.secured(b"\x84\x24\x00\x01", b"", "STKSSSE", enc=b"\x12\x3a\x56")
    assert driver.sw(letters) == 0x6A80
    assert driver.verify() == 0x9000  # the PIN did not change
