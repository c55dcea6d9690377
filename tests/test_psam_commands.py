"""Every PSAM command and its exact status words (Part 9 §9, tables 11–31)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sbkcard.apdu.t0 import transmit_t0
from sbkcard.applet_model.psam import Psam, demo_admin_keys, psam_atr, psam_content
from sbkcard.applet_model.psam.layout import DES_ENVIRONMENT, SM4_ENVIRONMENT
from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.keys import Algorithm, auth_data, session_key

SX1 = "7378312E73682EC9E7BBE1B1A3D5CF"
SX2 = "7378322E73682EC9E7BBE1B1A3D5CF"
AID = "D15600000590"
FCI_SX1 = "6F1B840F" + SX1 + "A508880101" + "9F0C020000"
FCI_SX2 = "6F1B840F" + SX2 + "A508880101" + "9F0C020000"
FCI_ADF = "6F088406" + AID


def make_psam(**options: Any) -> Psam:
    return Psam(MemoryStorage(psam_content(**options)), random=random.Random(7).randbytes)


def send(psam: Psam, apdu: str | bytes) -> tuple[bytes, int]:
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    response = psam.process(raw)
    return response[:-2], int.from_bytes(response[-2:])


def sw(psam: Psam, apdu: str | bytes) -> int:
    return send(psam, apdu)[1]


def exchange(psam: Psam, apdu: str | bytes) -> tuple[bytes, int]:
    """Send as a T=0 terminal does: ``61xx`` fetched with GET RESPONSE, ``6Cxx`` resent."""
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    response = transmit_t0(psam.process, raw)
    return response[:-2], int.from_bytes(response[-2:])


def in_adf(psam: Psam, environment: str = SX1) -> Psam:
    assert sw(psam, f"00A404000F{environment}") == 0x611D
    assert sw(psam, f"00A4040006{AID}") == 0x610A
    return psam


@pytest.fixture
def psam() -> Psam:
    return make_psam()


# -- CLA, INS, malformed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00A4", 0x6700),  # truncated header
        ("00B0950005AA", 0x6700),  # Lc disagrees with the data
        ("00B09500000010", 0x6700),  # extended length
        ("A0A4000000", 0x6E00),  # unknown class
        ("80A4040000", 0x6E00),  # SELECT is CLA 00
        ("00DE000000", 0x6E00),  # DELIVERY SESSION KEY is CLA BF
        ("00FF000000", 0x6D00),  # unknown instruction
        ("BF00000000", 0x6D00),
        ("80CA000000", 0x6D00),
    ],
)
def test_class_and_instruction(psam: Psam, apdu: str, expected: int) -> None:
    assert sw(psam, apdu) == expected


# -- SELECT (Part 9 §9.1) -------------------------------------------------------------------


def test_select_environments_and_adf(psam: Psam) -> None:
    assert exchange(psam, f"00A404000F{SX1}00") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert exchange(psam, f"00A4040006{AID}00") == (bytes.fromhex(FCI_ADF), 0x9000)
    assert exchange(psam, f"00A404000F{SX2}00") == (bytes.fromhex(FCI_SX2), 0x9000)
    assert exchange(psam, "00A4000002DDF100") == (bytes.fromhex(FCI_SX2), 0x9000)
    assert exchange(psam, "00A4000002DF0100") == (bytes.fromhex(FCI_ADF), 0x9000)
    assert exchange(psam, "00A40000023F0000") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert send(psam, "00A4000000") == (b"", 0x6C1D)  # no FID: the MF; case 2, Le 256
    assert send(psam, "00A400001D") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert send(psam, "00A400000000") == (b"", 0x6700)  # malformed (extended, truncated)


@pytest.mark.parametrize("le", ["", "00", "1D", "10", "FF"])
def test_case_4_answers_61xx_whatever_the_le(psam: Psam, le: str) -> None:
    """T=0 (ATR ``3B 6x``): a case-4 Le never reaches the card (Part 2 §9.3.1.4)."""
    assert psam_atr()[:2] == bytes.fromhex("3B6D")  # TD1 absent: T=0
    assert send(psam, f"00A404000F{SX1}{le}") == (b"", 0x611D)
    assert send(psam, "00C000001D") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert send(psam, f"00A4000002DF01{le}") == (b"", 0x610A)
    assert send(psam, "00C000000A") == (bytes.fromhex(FCI_ADF), 0x9000)
    assert send(psam, "BFDE670820" + "00" * 32) == (b"", 0x9000)
    assert send(psam, "80FA000008" + "11" * 8 + le) == (b"", 0x6108)
    data, status = send(psam, "00C0000008")
    assert len(data) == 8 and status == 0x9000


def test_case_2_wrong_le_is_6cxx_and_not_executed(psam: Psam) -> None:
    assert send(psam, "00A4000010") == (b"", 0x6C1D)  # SELECT of the MF, case 2
    assert send(psam, "00A400001D") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert send(psam, "00B0960007") == (b"", 0x6C06)  # the terminal number has 6 bytes
    assert exchange(psam, "00B0960007") == (bytes.fromhex("410100000001"), 0x9000)
    in_adf(psam)
    assert send(psam, "00A4000010") == (b"", 0x6C1D)
    assert sw(psam, "BFEC00000141") == 0x9000  # still in the ADF: the SELECT did not run


def test_select_mf_by_empty_fid() -> None:
    psam = make_psam()
    in_adf(psam)
    assert send(psam, "00A40000") == (b"", 0x611D)  # case 1: MF, FCI via GET RESPONSE
    assert send(psam, "00C000001D") == (bytes.fromhex(FCI_SX1), 0x9000)


def test_select_without_le_answers_61xx(psam: Psam) -> None:
    assert send(psam, f"00A404000F{SX1}") == (b"", 0x611D)
    assert send(psam, "00C000001D") == (bytes.fromhex(FCI_SX1), 0x9000)
    assert send(psam, f"00A4040006{AID}") == (b"", 0x610A)
    assert send(psam, "00C0000004") == (bytes.fromhex(FCI_ADF)[:4], 0x6106)
    assert send(psam, "00C0000006") == (bytes.fromhex(FCI_ADF)[4:], 0x9000)
    assert sw(psam, "00C0000006") == 0x6985  # nothing left


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00A4040004D156000000", 0x6700),  # a name is 5-16 bytes
        ("00A4040011" + "00" * 17 + "00", 0x6700),
        ("00A40000033F000000", 0x6700),
        ("00A404000611223344556600", 0x6A82),
        ("00A4000002DF0200", 0x6A82),
        ("00A4000002001500", 0x6A82),  # P1 00 selects DFs only
        ("00A4040106" + AID + "00", 0x6A86),
        ("00A4080002DF0100", 0x6A86),
        ("00A40000 10", 0x6C1D),  # case 2: Le neither 00 nor the FCI's length
    ],
)
def test_select_errors(psam: Psam, apdu: str, expected: int) -> None:
    assert sw(psam, apdu.replace(" ", "")) == expected


def test_select_ef_follows_the_current_df(psam: Psam) -> None:
    assert send(psam, "00A40200020015") == (b"", 0x9000)
    assert sw(psam, "00A40200020019") == 0x6A82  # an ADF file, seen from the MF
    in_adf(psam)
    assert sw(psam, "00A40200020019") == 0x9000
    assert sw(psam, "00A40200020015") == 0x6A82
    assert sw(psam, "00A40200020011") == 0x9000  # a key file can be selected
    assert sw(psam, "00A402000300190000") == 0x6700


def test_a_des_only_psam_has_no_sm4_environment() -> None:
    psam = make_psam(algorithm=Algorithm.DES)
    assert sw(psam, f"00A404000F{SX2}00") == 0x6A82
    assert sw(psam, "00A4000002DDF100") == 0x6A82
    assert sw(psam, f"00A4040006{AID}00") == 0x610A


def test_an_sm4_only_psam_has_an_mf_without_des_application() -> None:
    psam = make_psam(algorithm=Algorithm.SM4)
    assert sw(psam, f"00A404000F{SX1}00") == 0x611D
    assert sw(psam, f"00A4040006{AID}00") == 0x6A82
    assert send(psam, "00B2020C00")[1] == 0x6A83  # the MF's DIR names only DDF1
    assert exchange(psam, "00B2010C00") == (bytes.fromhex("61114F0F" + SX2), 0x9000)
    in_adf(psam, SX2)


# -- READ BINARY, READ RECORD -----------------------------------------------------------------


def test_read_binary_by_sfi(psam: Psam) -> None:
    public = bytes.fromhex("01 41010020240101000001 01 00 0000")
    assert send(psam, "00B0950000") == (public, 0x9000)
    assert send(psam, "00B095000F") == (public, 0x9000)
    assert send(psam, "00B0950B04") == (public[11:], 0x9000)
    assert send(psam, "00B0950B00") == (public[11:], 0x9000)
    assert send(psam, "00B0950B05") == (b"", 0x6C04)
    assert send(psam, "00B0950F00") == (b"", 0x6B00)
    assert send(psam, "00B0960006") == (bytes.fromhex("410100000001"), 0x9000)
    assert sw(psam, "00B0990004") == 0x6A82  # 0019 is in the ADF
    in_adf(psam)
    assert send(psam, "00B0990004") == (bytes(4), 0x9000)
    info = bytes.fromhex("0101 20240101 20341231")
    for sfi in (0x9A, 0x9B, 0x9C):
        assert send(psam, f"00B0{sfi:02X}0000") == (info, 0x9000)
    assert sw(psam, "00B0960000") == 0x6A82  # 0016 is in the DDF


def test_read_binary_of_the_current_ef(psam: Psam) -> None:
    assert sw(psam, "00B0000006") == 0x6986
    assert sw(psam, "00A40200020016") == 0x9000
    assert send(psam, "00B0000003") == (bytes.fromhex("410100"), 0x9000)
    assert send(psam, "00B0000300") == (bytes.fromhex("000001"), 0x9000)
    assert sw(psam, "00B0000600") == 0x6B00
    assert send(psam, "00B0950000")[1] == 0x9000  # SFI makes 0015 current
    assert send(psam, "00B0000D00") == (bytes(2), 0x9000)


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00B0A10000", 0x6A86),  # P1 100 bits, then 2 bits that must be 0
        ("00B0800000", 0x6A82),  # SFI 0
        ("00B09E0000", 0x6A82),
        ("00B0810000", 0x6981),  # DIR is a record file
        ("00B09500", 0x6700),  # no Le
        ("00B0950001AA00", 0x6700),
    ],
)
def test_read_binary_errors(psam: Psam, apdu: str, expected: int) -> None:
    assert sw(psam, apdu) == expected


def test_key_files_cannot_be_read() -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "00B0910000") == 0x6981
    assert sw(psam, "00A40200020012") == 0x9000
    assert sw(psam, "00B0000000") == 0x6981


def test_read_record_of_dir(psam: Psam) -> None:
    adf_entry = bytes.fromhex("61164F06" + AID + "500C") + "社会保障PSAM".encode("gbk")
    assert sw(psam, "00B2010400") == 0x6986  # no current EF
    assert send(psam, "00B2010C00") == (b"", 0x6C18)  # T=0: Le 00 is 256, not 24
    assert send(psam, "00B2010C18") == (adf_entry, 0x9000)
    assert send(psam, "00B2010C10") == (b"", 0x6C18)
    assert exchange(psam, "00B2020C00") == (bytes.fromhex("61114F0F" + SX2), 0x9000)
    assert sw(psam, "00B2030C00") == 0x6A83
    assert sw(psam, "00B2000C00") == 0x6A86
    assert sw(psam, "00B2010D00") == 0x6A86  # only "record P1" mode
    assert sw(psam, "00B201AC00") == 0x6981  # SFI 15 is transparent
    assert exchange(psam, "00B2010400") == (adf_entry, 0x9000)  # SFI made DIR current
    assert sw(psam, "00B2010C") == 0x6700
    assert sw(psam, "00A40200020001") == 0x9000
    assert exchange(psam, "00B2010400") == (adf_entry, 0x9000)
    sw(psam, "00A4000002DDF100")
    assert exchange(psam, "00B2010C00") == (adf_entry, 0x9000)
    assert sw(psam, "00B2020C00") == 0x6A83


# -- GET CHALLENGE, GET RESPONSE ----------------------------------------------------------------


def test_get_challenge(psam: Psam) -> None:
    first, status = send(psam, "0084000004")
    assert status == 0x9000 and len(first) == 4
    second, status = send(psam, "0084000008")
    assert status == 0x9000 and len(second) == 8 and second[:4] != first
    assert sw(psam, "0084000010") == 0x6700  # 16 bytes only in the SSF33/SM4 environment
    assert sw(psam, "0084000000") == 0x6700
    assert sw(psam, "00840000") == 0x6700
    assert sw(psam, "0084010004") == 0x6A86
    assert sw(psam, "00840000011104") == 0x6700
    sw(psam, "00A4000002DDF100")
    sixteen, status = send(psam, "0084000010")
    assert status == 0x9000 and len(sixteen) == 16


def test_get_response_errors(psam: Psam) -> None:
    assert sw(psam, "00C0000008") == 0x6985
    assert sw(psam, f"00A404000F{SX1}") == 0x611D
    assert sw(psam, "00C0000020") == 0x6C1D  # the data stay for a second try
    assert sw(psam, "00C0000000") == 0x6C1D  # Le 00 is 256 bytes on T=0
    assert sw(psam, "00C0010000") == 0x6A86  # any other command drops them
    assert sw(psam, "00C000001D") == 0x6985
    assert sw(psam, f"00A404000F{SX1}") == 0x611D
    assert sw(psam, "00C00000") == 0x6700
    assert sw(psam, "00C000001D") == 0x6985


# -- EXTERNAL AUTHENTICATE (Part 9 §9.4) ---------------------------------------------------------


def kid_auth(
    psam: Psam,
    kid: int,
    *,
    cipher: Algorithm = Algorithm.DES,
    good: bool = True,
    version: int | None = None,
) -> str:
    """EXTERNAL AUTHENTICATE of PSAM key ``kid`` after a fresh challenge (hex APDU)."""
    challenge, status = send(psam, "0084000004")
    assert status == 0x9000
    original = bytes.fromhex("1122334455667788")
    key = demo_admin_keys(cipher).auth[kid - 1]
    auth = auth_data(session_key(key, challenge, cipher), original, cipher)
    if not good:
        auth = bytes([auth[0] ^ 1]) + auth[1:]
    tail = b"" if version is None else bytes((version,))
    data = auth + original + tail
    return f"008200{kid:02X}{len(data):02X}" + data.hex()


@pytest.mark.parametrize(("environment", "cipher"), [(SX1, Algorithm.DES), (SX2, Algorithm.SM4)])
def test_external_authenticate(environment: str, cipher: Algorithm) -> None:
    psam = in_adf(make_psam(), environment)
    for kid in (1, 2, 3):
        assert sw(psam, kid_auth(psam, kid, cipher=cipher)) == 0x9000
    assert sw(psam, kid_auth(psam, 1, cipher=cipher, version=0)) == 0x9000


def test_external_authenticate_counts_down_and_locks() -> None:
    storage = MemoryStorage(psam_content())
    psam = in_adf(Psam(storage))
    assert sw(psam, kid_auth(psam, 2, good=False)) == 0x63C2
    assert sw(psam, kid_auth(psam, 2)) == 0x9000  # success restores the tries
    assert sw(psam, kid_auth(psam, 2, good=False)) == 0x63C2
    assert sw(psam, kid_auth(psam, 2, good=False)) == 0x63C1
    psam.power_on()  # the counter is in NVM
    in_adf(psam)
    assert sw(psam, kid_auth(psam, 2, good=False)) == 0x63C0
    assert sw(psam, kid_auth(psam, 2)) == 0x6983
    assert sw(psam, kid_auth(psam, 1)) == 0x9000  # other keys are not affected
    assert storage.read(DES_ENVIRONMENT.tries_key(2)) == bytes((3, 0))
    assert storage.read(SM4_ENVIRONMENT.tries_key(2)) == bytes((3, 3))


def test_external_authenticate_errors(psam: Psam) -> None:
    apdu = kid_auth(psam, 1)
    assert sw(psam, apdu) == 0x6985  # in the MF: no current application
    in_adf(psam)
    assert sw(psam, apdu) == 0x6984  # no challenge
    apdu = kid_auth(psam, 1)
    assert sw(psam, apdu[:-2]) == 0x6700  # a malformed command does not spend it
    assert sw(psam, apdu) == 0x9000
    assert sw(psam, apdu) == 0x6984  # one authentication per challenge
    assert sw(psam, "00820101" + apdu[8:]) == 0x6A86
    for kid in (0x00, 0x04, 0x09, 0x41, 0xC1):  # missing, or not a PSAM key
        assert sw(psam, kid_auth(psam, 1)[:6] + f"{kid:02X}" + apdu[8:]) == 0x6A88
    assert sw(psam, kid_auth(psam, 1, version=1)) == 0x6A88  # the PSAM's keys: no versions


# -- INITIALIZE ENVIRONMENT (Part 9 §9.3) ---------------------------------------------------------


def test_initialize_environment(psam: Psam) -> None:
    assert sw(psam, "BFEC00000141") == 0x6985  # needs the application
    in_adf(psam)
    assert sw(psam, "BFEC00000141") == 0x9000
    assert sw(psam, "BFEC00000100") == 0x6A80
    assert sw(psam, "BFEC0000014A") == 0x6A80  # not BCD
    assert sw(psam, "BFEC0000024141") == 0x6700
    assert sw(psam, "BFEC0100014100") == 0x6A86


def test_initialize_environment_drops_the_session_key(psam: Psam) -> None:
    in_adf(psam)
    assert sw(psam, "BFDE6708 20" + "00" * 32) == 0x9000
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6108
    assert sw(psam, "BFDE6708 20" + "00" * 32) == 0x9000
    assert sw(psam, "BFEC00000141") == 0x9000
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6901


# -- DELIVERY SESSION KEY and CIPHER DATA: status words (crypto in test_psam_crypto) --


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("BFDE6708 20" + "00" * 32, 0x9000),  # IRK, 3 levels: national root
        ("BFDE6708 18" + "00" * 24, 0x6A80),  # 2 factors for a 3-level key
        ("BFDE4708 18" + "00" * 24, 0x6A80),  # usage says 2 levels
        ("BFDE4708 20" + "00" * 32, 0x6A80),
        ("BFDE6708 1F" + "00" * 31, 0x6700),
        ("BFDE6708 07" + "00" * 7, 0x6700),
        ("BFDE6708 28" + "00" * 40, 0x6700),  # 4 factors
        ("BFDE6608 20" + "00" * 32, 0x6A88),  # IRK is type 7, not 6
        ("BFDE6707 20" + "00" * 32, 0x6A88),  # nothing at 07
        ("BFDE67C0 20" + "00" * 32, 0x6A88),  # reserved identifiers
        ("BFDE6201 20" + "00" * 32, 0x6985),  # DPK: purchase commands only
        ("BFDE0101 08" + "00" * 8, 0x6985),  # KID-01: the PSAM's own key
        ("BFDE6009 20" + "00" * 32, 0x6A88),
    ],
)
def test_delivery_session_key_status(apdu: str, expected: int) -> None:
    psam = in_adf(make_psam())
    assert sw(psam, apdu.replace(" ", "")) == expected


def test_delivery_session_key_needs_the_application(psam: Psam) -> None:
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x6985


def test_delivery_in_the_sm4_environment_takes_16_byte_session_factors() -> None:
    psam = in_adf(make_psam(), SX2)
    assert sw(psam, "BFDE670824" + "00" * 36) == 0x6700
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x6A80  # 2 factors + 16
    assert sw(psam, "BFDE670828" + "00" * 40) == 0x9000
    assert sw(psam, "80FA000010" + "00" * 16) == 0x6110


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("80FA000008" + "11" * 8, 0x6108),
        ("80FA040008" + "11" * 8, 0x6A86),
        ("80FA000108" + "11" * 8, 0x6A86),
        ("80FA000007" + "11" * 7, 0x6700),
        ("80FA000048" + "11" * 72, 0x6700),
        ("80FA000040" + "11" * 64, 0x6140),
        ("80FA00000C" + "11" * 12, 0x6700),
        ("80FA000008" + "11" * 8 + "04", 0x6108),  # a case-4 Le is not seen (T=0)
        ("80FA050010" + "11" * 16, 0x6985),  # IRK is an encryption key: no MAC
    ],
)
def test_cipher_data_status(apdu: str, expected: int) -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "80FA000008" + "11" * 8) == 0x6901  # no session key yet
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x9000
    assert sw(psam, apdu) == expected


def test_cipher_data_spends_the_session_key() -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "BFDE260910" + "00" * 16) == 0x6A80  # STKSSSE held at level 3: 66
    assert sw(psam, "BFDE660920" + "00" * 32) == 0x9000
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6985  # a MAC key does not encrypt
    assert sw(psam, "80FA050008" + "00" * 8) == 0x6700  # IV and at least one block
    assert sw(psam, "80FA010008" + "00" * 8) == 0x6985  # no MAC begun
    assert sw(psam, "80FA070008" + "00" * 8) == 0x9000
    assert sw(psam, "80FA030008" + "00" * 8) == 0x9000
    assert sw(psam, "80FA010008" + "00" * 8) == 0x6104
    assert sw(psam, "80FA050010" + "00" * 16) == 0x6901  # one MAC per delivered key


def test_a_mac_and_encryption_key_does_one_of_each() -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "BFDE681020" + "00" * 32) == 0x9000  # PUK, usage 48 at level 3: 68
    assert sw(psam, "80FA020008" + "00" * 8) == 0x6108
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6108
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6901
    assert sw(psam, "80FA050010" + "00" * 16) == 0x6104
    assert sw(psam, "80FA050010" + "00" * 16) == 0x6901


def test_selecting_another_df_drops_security_state() -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x9000
    in_adf(psam)  # same ADF after a trip through the MF
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6901
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x9000
    assert sw(psam, "00A4040006" + AID + "00") == 0x610A  # the same DF again keeps it
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6108


def test_power_on_clears_volatile_state() -> None:
    psam = in_adf(make_psam())
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x9000
    psam.power_on()
    assert sw(psam, "BFDE670820" + "00" * 32) == 0x6985  # back in the MF
    in_adf(psam)
    assert sw(psam, "80FA000008" + "00" * 8) == 0x6901
