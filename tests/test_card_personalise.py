"""Personalisation: by APDUs from a blank chip, and the fast path, give the same card (Part 10)."""

from __future__ import annotations

import datetime

import pytest
from test_card_driver import PROFILES, SSSE_AID, Driver

from sbkcard.applet_model.records import (
    Degree,
    Education,
    EmploymentHistory,
    EmploymentRecord,
    FileContent,
    HouseholdRegistration,
    InsuranceCertificates,
    InsuranceProof,
    Photo,
)
from sbkcard.applet_model.storage import MemoryStorage
from sbkcard.applet_model.user_card import FIRST_GENERATION, Profile, UserCard
from sbkcard.applet_model.user_card.fcp import EfHeader
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_EXPIRY,
    DEMO_FILES,
    DEMO_FILES_1X,
    DEMO_ISSUE_DATE,
    PersonalisationError,
    blank_card_content,
    card_atr,
    create_file_command,
    demo_card_content,
    demo_transport_key,
    ef_header,
    external_auth_command,
    personalise,
    user_card_content,
    write_key_command,
)
from sbkcard.keys.hierarchy import card_key, demo_keyset, derive_card_keys

FILES = {
    **DEMO_FILES,
    "SSSE/DF01/EF05": HouseholdRegistration("10", "河南省郑州市金水区", "410105"),
    "SSSE/DF01/EF15": Education("3", (Degree("001", "081", "郑州大学"),)),
    "SSSE/DF02/EF07": EmploymentHistory(
        (
            EmploymentRecord("2020000", datetime.date(2020, 1, 1), None, "郑州某公司"),
            EmploymentRecord(
                "2010000", datetime.date(2012, 7, 1), datetime.date(2019, 12, 31), "开封某厂"
            ),
        )
    ),
    "SSSE/DF03/EF19": InsuranceCertificates((InsuranceProof("110", "410100"),)),
    "SSSE/EF08": Photo(b"\xff\xd8\xff\xe0" + bytes(100) + b"\xff\xd9"),
}
FILES_1X = {  # a 1.00 card: no ★ item nor ※ file, 附表二 lengths (S2 appendix C)
    **DEMO_FILES_1X,
    "SSSE/DF01/EF05": HouseholdRegistration("1", "河南省郑州市金水区"),
    "SSSE/DF01/EF15": FILES["SSSE/DF01/EF15"],
    "SSSE/DF02/EF07": FILES["SSSE/DF02/EF07"],
}


def _arguments(profile: Profile) -> tuple[bytes, dict[str, bytes], bytes]:
    atr = card_atr(profile, DEMO_CARD_ID)
    keys = derive_card_keys(demo_keyset(profile.algorithm), DEMO_CARD_ID.region, atr)
    return atr, keys, demo_transport_key(profile.algorithm)


@pytest.mark.parametrize(
    ("profile", "files"),
    [*((p, FILES) for p in PROFILES), (FIRST_GENERATION, FILES_1X)],
    ids=lambda p: f"gen{p.generation}" if isinstance(p, Profile) else "",
)
def test_personalising_by_apdus_gives_the_fast_paths_card(
    profile: Profile, files: dict[str, FileContent]
) -> None:
    atr, keys, transport = _arguments(profile)
    common = dict(
        card_id=DEMO_CARD_ID,
        card_number=DEMO_CARD_NUMBER,
        issue_date=DEMO_ISSUE_DATE,
        expiry=DEMO_EXPIRY,
        files=files,
    )
    fast = user_card_content(profile, DEMO_CARDHOLDER, keys, atr=atr, **common)
    storage = MemoryStorage(blank_card_content(transport, atr=atr, algorithm=profile.algorithm))
    card = UserCard(storage)
    sent: list[bytes] = []

    def transmit(apdu: bytes) -> bytes:
        sent.append(apdu)
        return card.process(apdu)

    personalise(transmit, transport, profile, DEMO_CARDHOLDER, keys, **common)
    assert storage.data == fast
    assert sent[-1][:4] == bytes.fromhex("84D40000")  # the card master key, last
    assert card.atr == atr
    # CREATE FILE and WRITE KEY kept the card's index as a power-on builds it.
    assert _index(card) == _index(UserCard(MemoryStorage(fast)))


def _index(card: UserCard) -> tuple[object, ...]:
    """What the card knows of its files and keys without reading storage."""
    return (
        card._headers,
        card._children,
        card._named,
        card._sfis,
        card._keys,
        card._masters,
        card._pins,
        card._blocked,
        card._card_blocked,
    )


def test_demo_card_is_the_documented_demo_cardholder() -> None:
    content = demo_card_content(PROFILES[0])
    d = Driver(PROFILES[0], content)
    d.select_ssse()
    _, sw = d.raw("00B201355B")
    assert sw == 0x9000
    assert DEMO_CARDHOLDER.name == "张三" and DEMO_CARDHOLDER.ssn.startswith("410102")


def test_a_blank_card_only_knows_its_transport_key() -> None:
    profile = PROFILES[1]
    atr, keys, transport = _arguments(profile)
    d = Driver(profile, blank_card_content(transport, atr=atr, algorithm=profile.algorithm))
    assert d.sw(b"\x00\xa4\x04\x00\x0f" + SSSE_AID) == 0x6A82
    header = ef_header(profile.tree.ef("SSSE/EF05"))
    assert d.sw(create_file_command(header)) == 0x6982
    assert d.sw(external_auth_command(0x00, bytes(16), profile.algorithm, d.challenge())) == 0x63C2
    assert d.sw(external_auth_command(0x00, transport, profile.algorithm, d.challenge())) == 0x9000
    assert d.sw("80E0000003010203") == 0x6A80
    assert d.sw(create_file_command(header)) == 0x9000  # an EF under the MF
    assert d.sw(create_file_command(header)) == 0x6A82  # the FID exists
    clash = EfHeader(header.structure, 0xEF09, header.sfi, 4, 0, 0, header.read, header.write)
    assert d.sw(create_file_command(clash)) == 0x6A82  # the SFI exists
    from sbkcard.applet_model.user_card.personalise import key_record

    spec = card_key("MKSSSE")
    record = key_record(spec, keys["MKSSSE"], profile.algorithm)
    good = write_key_command(0x01, record, transport, profile.algorithm, d.challenge())
    bad = bytearray(good)
    bad[-1] ^= 1
    assert d.sw(bytes(bad)) == 0x6988
    assert d.sw(good) == 0x6984  # the challenge went with the failed attempt
    wrong = write_key_command(0x01, record, bytes(16), profile.algorithm, d.challenge())
    assert d.sw(wrong) == 0x6988
    assert d.sw("84D4020008" + "00" * 8) == 0x6A86


def test_personalisation_refuses_what_cannot_go_on_a_card() -> None:
    profile = PROFILES[0]
    keys = _arguments(profile)[1]
    common = dict(
        card_id=DEMO_CARD_ID, card_number="A00000011", issue_date=DEMO_ISSUE_DATE, expiry=None
    )
    with pytest.raises(PersonalisationError, match="MKSSSE"):
        user_card_content(profile, DEMO_CARDHOLDER, {"MKMF": keys["MKMF"]}, **common)
    from sbkcard.applet_model.records import TransactionLog

    with pytest.raises(PersonalisationError, match="only the COS"):
        user_card_content(
            profile, DEMO_CARDHOLDER, keys, files={"SSSE/DF04/EF08": TransactionLog()}, **common
        )
    with pytest.raises(PersonalisationError, match="PIN"):
        user_card_content(profile, DEMO_CARDHOLDER, keys, pin="12", **common)


def test_a_card_without_a_pin_opens_pin_files() -> None:
    profile = PROFILES[0]
    d = Driver(profile, demo_card_content(profile, pin=None))
    d.select_df("DF04")
    assert d.sw("0020000000") == 0x9000
    assert d.read(1, 0x2C)[1] == 0x9000


def test_write_key_refuses_plaintext_that_is_no_key_record() -> None:
    from sbkcard.applet_model.user_card.personalise import _wrapped

    profile = PROFILES[0]
    atr, _, transport = _arguments(profile)
    d = Driver(profile, blank_card_content(transport, atr=atr, algorithm=profile.algorithm))
    alg = profile.algorithm
    assert (
        d.sw(_wrapped(0x00, 0x05, b"\x01\x02\x01\x00" + bytes(5), transport, alg, d.challenge()))
        == 0x6A80
    )
    assert (
        d.sw(_wrapped(0x00, 0x05, b"\x01\x77\x01\x00" + bytes(8), transport, alg, d.challenge()))
        == 0x6A80
    )
    assert d.sw(_wrapped(0x01, 0x00, b"\x03\x12\x3a", transport, alg, d.challenge())) == 0x6A80
    assert d.sw(_wrapped(0x01, 0x00, b"\x00\x12\x34", transport, alg, d.challenge())) == 0x6A80
    assert d.sw(_wrapped(0x01, 0x00, b"\x03\x12\x34", transport, alg, d.challenge())) == 0x9000
    assert d.storage.read("pin:MF") == b"\x03\x12\x34"
    assert d.sw(external_auth_command(0x00, transport, alg, d.challenge())) == 0x9000
    mf = bytes.fromhex("38 3F00 00 00 0000 00 00")
    assert d.sw(b"\x80\xe0\x00\x00\x09" + mf) == 0x6A80  # a second MF
