"""ATR, SELECT and GET RESPONSE (Part 3 §6.4; Part 5 §6.6, §6.11; Part 2 §8.4)."""

from __future__ import annotations

import pytest

from sbkcard.apdu import parse_ber_tlv, parse_simple_tlv

from .conftest import Target
from .standard import AID, ALGORITHM_CODES, DF04_AID, FCI_LENGTH, SELECT_SSSE, fci


def test_atr_is_t0_with_historical_bytes(target: Target) -> None:
    """Part 2 §8.4: the contact ATR is ``3B 6x 00 00`` + x historical bytes."""
    atr = target.atr
    assert atr[0] == 0x3B
    assert atr[1] >> 4 == 0x6
    assert atr[2:4] == b"\x00\x00"
    assert len(atr) == 4 + (atr[1] & 0x0F)


def test_atr_region_matches_card_identification_code(target: Target) -> None:
    """Part 10 §5.1.2: historical bytes T8–T9 are the first 4 digits of the
    region code, which also opens the card identification code (EF05 tag 01)."""
    target.select_ssse()
    card_id = target.ok("00 B2 01 2C 12")
    assert card_id[:2] == b"\x01\x10"
    historical = target.atr[4:]
    assert historical[7:9] == card_id[2:4]


def test_select_ssse_by_name_answers_61_1e(target: Target) -> None:
    """Part 3 §6.4: on T=0, SELECT ``00 A4 04 00 0F <AID>`` answers ``61 1E`` and no data."""
    response = target.send(SELECT_SSSE)
    assert (response.data, f"{response.sw:04X}") == (b"", "611E")


def test_get_response_returns_the_fci(target: Target) -> None:
    """Part 2 §9.3.3: GET RESPONSE ``00 C0 00 00 1E`` returns the 30-byte FCI; on our cards
    byte for byte ``6F 1C 84 0F <AID> A5 09 88 01 1E 9F 0C 03 86 01 xx``."""
    assert target.sw(SELECT_SSSE) == "611E"
    data = target.ok("00 C0 00 00 1E")
    assert len(data) == FCI_LENGTH
    (template,) = parse_ber_tlv(data)
    assert template.tag == 0x6F
    fields = {t.tag: t.value for t in parse_ber_tlv(template.value)}
    assert fields[0x84] == AID
    if target.simulated:
        assert data == fci(target.algorithm)


def test_fci_algorithm_identifier(target: Target) -> None:
    """S3 §10.1: 9F0C carries ``86 01 xx``: 01 DES/3DES (2.00 demo card),
    03 SM4 (3.00 cards)."""
    data = target.select_ssse()
    (template,) = parse_ber_tlv(data)
    fields = {t.tag: t.value for t in parse_ber_tlv(template.value)}
    proprietary = {t.tag: t.value for t in parse_ber_tlv(fields[0xA5])}
    issuer = dict(parse_simple_tlv(proprietary[0x9F0C]))
    assert issuer[0x86] in {bytes((code,)) for code in ALGORITHM_CODES}
    assert issuer[0x86] == bytes((target.algorithm,))
    if target.generation == 3:
        assert issuer[0x86] == b"\x03"


def test_get_response_le_00_answers_6cxx_then_resend(target: Target) -> None:
    """Part 5 §6.6.4: GET RESPONSE with Le 00 while data waits answers ``6Cxx``; the
    same command with Le xx then returns the data."""
    assert target.sw(SELECT_SSSE) == "611E"
    assert target.sw("00 C0 00 00 00") == "6C1E"
    assert len(target.ok("00 C0 00 00 1E")) == FCI_LENGTH


def test_get_response_without_data_answers_6f00(target: Target) -> None:
    """Part 5 §6.6.4: GET RESPONSE with Le 00 and nothing waiting answers ``6F00``."""
    assert target.sw("00 C0 00 00 00") == "6F00"


def test_unknown_aid_answers_6a82(target: Target) -> None:
    """Part 5 §6.11, table 39: SELECT of a DF name no DF has answers ``6A82``."""
    assert target.sw("00 A4 04 00 08 D1 56 00 00 05 7F 7F 7F") == "6A82"


def test_unknown_fid_answers_6a82(target: Target) -> None:
    """Part 5 table 39: SELECT of an EF or DF identifier that does not exist: ``6A82``."""
    target.select_ssse()
    assert target.sw("00 A4 02 00 02 EF 7E") == "6A82"
    assert target.sw("00 A4 00 00 02 DF 7E") == "6A82"


def test_select_ef_answers_9000_without_fci(target: Target) -> None:
    """Part 5 §6.11.4: SELECT EF ``00 A4 02 00 02 EF 05`` answers ``9000``
    and no data (no FCI for an EF)."""
    target.select_ssse()
    response = target.send("00 A4 02 00 02 EF 05")
    assert (response.data, f"{response.sw:04X}") == (b"", "9000")


def test_select_df_by_aid_returns_its_name(target: Target) -> None:
    """Part 5 §6.11.4: SELECT of an ADF by AID returns its FCI, whose ``84`` is the AID
    (DF04, S2 table 2)."""
    target.select_ssse()
    response = target.send(b"\x00\xa4\x04\x00\x06" + DF04_AID)
    assert response.sw >> 8 == 0x61
    data = target.ok(bytes((0x00, 0xC0, 0x00, 0x00, response.sw & 0xFF)))
    (template,) = parse_ber_tlv(data)
    assert template.tag == 0x6F
    assert {t.tag: t.value for t in parse_ber_tlv(template.value)}[0x84] == DF04_AID


def test_partial_df_name_finds_each_application_once(target: Target) -> None:
    """Part 5 §6.11: partial DF names are optional; a card that supports them selects a
    different matching DF for each SELECT with P2 = 02 ("next"), finds each once, then
    answers ``6A82``.  The RID ``D1 56 00 00 05`` prefixes every application's AID
    (DF01–DF04 ``…00``–``…03``, DF07 ``…04``, S2 table 2)."""
    target.select_ssse()
    prefix = bytes.fromhex("D156000005")
    found: list[bytes] = []
    p2 = 0x00
    while True:
        response = target.send(bytes((0x00, 0xA4, 0x04, p2, len(prefix))) + prefix)
        if f"{response.sw:04X}" == "6A82":
            break
        assert response.sw >> 8 == 0x61, f"{response.sw:04X}"
        data = target.ok(bytes((0x00, 0xC0, 0x00, 0x00, response.sw & 0xFF)))
        (template,) = parse_ber_tlv(data)
        name = {t.tag: t.value for t in parse_ber_tlv(template.value)}[0x84]
        assert name.startswith(prefix)
        assert name not in found
        found.append(name)
        assert len(found) <= 0x20, "SELECT next keeps finding DFs"
        p2 = 0x02
    if not found:
        pytest.skip("the card does not select by partial DF name (optional, Part 5 §6.11)")
    if target.simulated:
        assert sorted(found) == [prefix + bytes((n,)) for n in range(5)]
