"""Personalisation of the user card: a blank chip, a personalised card, and the APDUs between.

Two ways to a personalised card, with identical storage at the end (a test holds them
to it):

- **the fast path** — :func:`user_card_content` computes the storage map directly
  (simulators, tests, the demo);
- **the personalisation machine's way** (Part 10 §5.2, §5.4) — :func:`personalise`
  sends APDUs to a card whose storage is :func:`blank_card_content`: authenticate the
  transport key, create the SSSE, load its master key, create every file, load every
  key as ciphertext + MAC, write the PIN and the data, and replace the card master key
  last. The issuing line (:mod:`sbkcard.issuance`) drives the same commands.

Storage layout (details and header formats in :mod:`.fcp`): ``cos:atr``, ``cos:life``;
``fs:<path>`` headers and ``<path>`` contents for ``MF``, ``SSSE``, ``SSSE/SFI1E``
(DIR), ``SSSE/EF05``…``SSSE/EF08``, ``SSSE/DF01``…``SSSE/DF07`` and their EFs,
``SSSE/DF04/PURSE``; ``key:<df>/<KID>.<VER>`` and ``ctr:<df>/<KID>`` for every key of
:data:`~sbkcard.keys.hierarchy.CARD_KEYS` (version ``01``), in the DF the table names
(``MF``, ``SSSE``, ``SSSE/DF01`` …); ``pin:SSSE`` and ``ctr:SSSE/PIN``. The blank card
holds only ``cos:atr``, ``cos:life``, ``fs:MF`` and the transport key as the MF master
key (``key:MF/00.01``, ``ctr:MF/00``).

The personalisation commands (COS-specific: the standard leaves them to the COS,
Part 10 §5.2; all are short APDUs, T=0, so data-returning ones answer ``61xx``):

===========================================  ================================================
``00 84 00 00 Le``                           GET CHALLENGE, before each EXTERNAL
                                             AUTHENTICATE and each WRITE KEY
``00 82 00 KID 10 auth ‖ orig``              EXTERNAL AUTHENTICATE with the master key in
                                             control (MF: transport or card master key, KID
                                             ``00``; SSSE and its DFs: MKSSSE, KID ``01``)
                                             before CREATE FILE, and with a file's write key
                                             before writing its data (Part 10 §5.4.3)
``80 E0 00 00 Lc header``                    CREATE FILE: a child of the current DF, ``header``
                                             as :mod:`.fcp` stores it (needs the controlling
                                             master key authenticated)
``84 D4 00 KID Lc E(LD‖rec) ‖ MAC``          WRITE KEY: ``rec`` = version ‖ role ‖ algorithm ‖
                                             tries ‖ key; encrypted (Part 4 §8.3) and MACed
                                             (Part 4 §8.2 over ``84 D4 00 KID Lc ‖ cipher``,
                                             IV = the challenge) under the master key in
                                             control; a global KID goes to the SSSE (or MF),
                                             a local one to the current DF
``84 D4 01 00 Lc E(LD‖tries‖PIN) ‖ MAC``     WRITE PIN of the current DF, same protection
``00 DC nn (SFI<<3|4) Lc record``            UPDATE RECORD, record by record in order
``00 D6 (80|SFI) off Lc data``               UPDATE BINARY, in chunks
===========================================  ================================================

The master key in control of a DF is the one of the nearest DF, from it upwards, that
has one: MF's until the SSSE's own is loaded (Part 4 §5.2). The sequence of
:func:`personalise`:

1. MF: GET CHALLENGE, EXTERNAL AUTHENTICATE ``00`` with the transport key; CREATE FILE
   SSSE.
2. SELECT SSSE by name; GET CHALLENGE; WRITE KEY ``01`` (MKSSSE) under the transport key.
3. GET CHALLENGE, EXTERNAL AUTHENTICATE ``01``; CREATE FILE DIR, EF05–EF08, DF01–DF07;
   WRITE KEY for each SSSE key; WRITE PIN.
4. For each DF: SELECT it; authenticate MKSSSE; CREATE FILE each EF; WRITE KEY each key.
5. Data: for each file with content, SELECT its DF, authenticate its write key, UPDATE.
6. SELECT MF; GET CHALLENGE; WRITE KEY ``00``: the card master key replaces the
   transport key, last (Part 10 §5.2.6).

The demo cardholder :data:`DEMO_CARDHOLDER` (张三, SSN ``410102199003071230``, born in
郑州市 410100 on 1990-03-07) and :func:`demo_card_content` build a card from the
**published test keys** of :func:`sbkcard.keys.hierarchy.demo_keyset` — never a real
card.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Required, TypedDict, Unpack

from sbkcard.apdu.status import SW
from sbkcard.applet_model.records import (
    Cardholder,
    FileContent,
    IssuerData,
    MedicalInsurance,
    OfflineSettlement,
    RecordError,
    check_one_of,
    encode_file,
)
from sbkcard.applet_model.ssse import Layout, dir_records
from sbkcard.applet_model.tree import DF, EF, Access, Rule, Structure
from sbkcard.applet_model.user_card.card import ATR_KEY, LIFE_KEY
from sbkcard.applet_model.user_card.core import RANGE_REFUSAL_KEY
from sbkcard.applet_model.user_card.fcp import (
    LIFE_OPERATIONAL,
    MF,
    MF_FID,
    Condition,
    DfHeader,
    EfHeader,
    KeyRecord,
    body_key,
    counter_key,
    header_key,
    key_kid,
    key_record_key,
    pin_key,
    role_of,
)
from sbkcard.applet_model.user_card.profile import Profile
from sbkcard.applet_model.user_card.recordfile import split
from sbkcard.errors import SbkcardError
from sbkcard.identifiers import CardId, make_atr
from sbkcard.identifiers.formats import encode_cn
from sbkcard.keys import Algorithm, auth_data, encrypt_data, mac, session_key, sm3
from sbkcard.keys.hierarchy import CARD_KEYS, DEMO_LABEL, KeySpec, card_key, demo_keyset
from sbkcard.keys.hierarchy import derive_card_keys as _derive_card_keys

__all__ = [
    "DEMO_CARDHOLDER",
    "DEMO_CARD_ID",
    "DEMO_CARD_NUMBER",
    "DEMO_EXPIRY",
    "DEMO_FILES",
    "DEMO_FILES_1X",
    "DEMO_ISSUE_DATE",
    "DEMO_MEDICAL",
    "DEMO_OFFLINE",
    "DEMO_PIN",
    "KEY_VERSION",
    "PIN_TRIES",
    "CardData",
    "PersonalisationError",
    "TransportKeyRefused",
    "blank_card_content",
    "card_atr",
    "create_file_command",
    "demo_card_content",
    "demo_files",
    "demo_transport_key",
    "df_header",
    "ef_header",
    "external_auth_command",
    "key_home",
    "key_record",
    "personalise",
    "update_commands",
    "user_card_content",
    "write_key_command",
    "write_pin_command",
]

KEY_VERSION = 0x01
"""The version every key is loaded with."""
PIN_TRIES = 3
"""PIN tries before it blocks (the issuer decides, Part 7 §13.3)."""

DEMO_PIN = "123456"
"""The demo card's PIN (the default seen on real cards)."""
DEMO_CARDHOLDER = Cardholder(
    ssn="410102199003071230",
    name="张三",
    gender="1",
    ethnicity="01",
    birthplace="410100",
    birth_date=datetime.date(1990, 3, 7),
)
"""张三, a male Han citizen born in 郑州市 (410100) on 1990-03-07; the SSN's check
character is valid (GB 11643)."""
DEMO_CARD_ID = CardId("410100", bytes.fromhex("00000001"), bytes.fromhex("FFFFFFFF"))
"""The demo card's identification code (authentication code left ``FFFFFFFF``)."""
DEMO_CARD_NUMBER = "A00000011"
"""The demo card number (body ``A0000001``, check character ``1``)."""
DEMO_ISSUE_DATE = datetime.date(2024, 1, 1)
DEMO_EXPIRY = datetime.date(2034, 1, 1)
DEMO_MEDICAL = MedicalInsurance(
    scheme="31001100",
    region="410100",
    health_record="41010219900307001",
    category="11",
    account_date=datetime.date(2010, 7, 1),
    account_number="4101000000000001",
    certificate="ZZ0000001",
    hospital1="410100001",
    card_usage="2",
)
"""DF04 EF05 of the demo card: an employee (310) in outpatient pooling with a chronic
disease (flags ``01100``), using the card offline."""
DEMO_OFFLINE = OfflineSettlement(offline_allowed="1", offline_total="00000000", offline_count="00")
"""DF04 EF06 of the demo card: offline settlement allowed, nothing settled yet."""
DEMO_FILES: Mapping[str, FileContent] = MappingProxyType(
    {"SSSE/DF04/EF05": DEMO_MEDICAL, "SSSE/DF04/EF06": DEMO_OFFLINE}
)
"""The demo card's data files besides EF05 and EF06: :data:`DEMO_MEDICAL`, :data:`DEMO_OFFLINE`."""
DEMO_FILES_1X: Mapping[str, FileContent] = MappingProxyType(
    {**DEMO_FILES, "SSSE/DF04/EF05": replace(DEMO_MEDICAL, account_number="4101000001")}
)
"""The same on a 1.00 card: its 基本医疗保险个人账号 is an 0A (S2 附表二)."""


class PersonalisationError(SbkcardError):
    """Personalisation data that cannot go on a card, or a card refusing a command."""


class TransportKeyRefused(PersonalisationError):
    """The blank chip refused the transport key (``63Cx``, Part 10 §5.1.1): its MF master
    key is another batch's transport key, so every chip of its stock will refuse it too."""


# -- declarations → what the card stores ---------------------------------------------------

_KIDS = {spec.name: key_kid(spec) for spec in CARD_KEYS}


def _condition(access: Access) -> Condition:
    return Condition.of(access, _KIDS)


def ef_header(ef: EF) -> EfHeader:
    """The header a declared EF is created with."""
    return EfHeader(
        ef.structure,
        ef.fid,
        ef.sfi,
        ef.size,
        ef.record_length,
        ef.records,
        _condition(ef.read),
        _condition(ef.write),
    )


def df_header(df: DF) -> DfHeader:
    """The header a declared DF is created with."""
    return DfHeader(
        df.fid,
        df.aid,
        df.dir_sfi,
        _KIDS[df.mac_key],
        _condition(df.block),
        df.discretionary,
    )


MF_HEADER = DfHeader(MF_FID, b"", None, 0, Condition(Rule.NEVER))
"""The MF as COS activation leaves it."""


def key_home(spec: KeySpec) -> str:
    """The storage DF path of a key of the table (``MF``, ``SSSE``, ``SSSE/DF04`` …)."""
    return spec.df if spec.df in (MF, "SSSE") else f"SSSE/{spec.df}"


def key_record(spec: KeySpec, key: bytes, algorithm: Algorithm) -> KeyRecord:
    """The record of ``key`` as the key ``spec`` of this card."""
    return KeyRecord(KEY_VERSION, role_of(spec), algorithm, spec.retries, key)


def _key_entries(spec: KeySpec, key: bytes, algorithm: Algorithm) -> dict[str, bytes]:
    home, kid = key_home(spec), _KIDS[spec.name]
    record = key_record(spec, key, algorithm)
    out = {key_record_key(home, kid, KEY_VERSION): record.to_bytes()}
    if spec.retries:
        out[counter_key(home, kid)] = bytes((spec.retries,))
    return out


def _pin_plain(pin: str | None, tries: int) -> bytes:
    digits = pin or ""
    if digits and not (4 <= len(digits) <= 16 and digits.isdigit()):
        raise PersonalisationError(f"PIN: 4 to 16 digits, got {len(digits)} characters")
    if not 1 <= tries <= 15:
        raise PersonalisationError(f"PIN tries: 1 to 15, got {tries}")
    return bytes((tries,)) + (
        encode_cn(digits, (len(digits) + 1) // 2, field="PIN") if digits else b""
    )


def card_atr(profile: Profile, card_id: CardId) -> bytes:
    """The ATR of a card of ``profile`` with ``card_id`` (Part 10 §5.1.2): region and serial."""
    return make_atr(
        card_id.region,
        card_id.serial,
        chip=profile.chip,
        vendor=profile.vendor,
        manufacturer=profile.manufacturer,
    )


def blank_card_content(
    transport_key: bytes, *, atr: bytes, algorithm: Algorithm, range_refusal: int | None = None
) -> dict[str, bytes]:
    """A chip after COS activation (Part 10 §5.1): ATR, MF, the batch's transport key;
    ``range_refusal`` for a COS without READ RECORD's range modes (:class:`Profile`)."""
    spec = card_key("MKMF")
    content = {
        ATR_KEY: atr,
        LIFE_KEY: LIFE_OPERATIONAL,
        header_key(MF): MF_HEADER.to_bytes(),
        **_key_entries(spec, transport_key, algorithm),
    }
    if range_refusal is not None:
        content[RANGE_REFUSAL_KEY] = range_refusal.to_bytes(2, "big")
    return content


@dataclass(frozen=True)
class _Plan:
    """Everything that goes on one card, in the order personalisation writes it."""

    profile: Profile
    keys: Mapping[str, bytes]
    pin: bytes
    data: dict[str, bytes]

    @property
    def tree(self) -> DF:
        return self.profile.tree.ssse


class CardData(TypedDict, total=False):
    """What goes on a card besides its cardholder and keys: the keyword arguments of
    :func:`user_card_content` and :func:`personalise`.

    ``card_id``, ``card_number``, ``issue_date`` and ``expiry`` are required. The others
    default to: ``card_type`` ``"3"``; ``init_org`` ``9156000002`` + region + region +
    ``01`` (S2 table 12); ``pin`` :data:`DEMO_PIN` (``None`` leaves the card without a
    PIN); ``pin_tries`` :data:`PIN_TRIES`; ``files``, content for other data files by path
    (``"SSSE/DF04/EF05"`` …), none.
    """

    card_id: Required[CardId]
    card_number: Required[str]
    issue_date: Required[datetime.date]
    expiry: Required[datetime.date | None]
    card_type: str
    init_org: str | None
    pin: str | None
    pin_tries: int
    files: Mapping[str, FileContent] | None


def _plan(
    profile: Profile, cardholder: Cardholder, keys: Mapping[str, bytes], card: CardData
) -> _Plan:
    names = {card_key(name).name: key for name, key in keys.items()}
    for required in ("MKMF", "MKSSSE"):
        if required not in names:
            raise PersonalisationError(f"keys: the card needs {required}")
    tree = profile.tree
    homes = {MF, *tree.paths}  # a 1.00 card has no DF07, nor its keys
    names = {name: key for name, key in names.items() if key_home(card_key(name)) in homes}
    layout = profile.layout
    card_id = card["card_id"]
    org = card.get("init_org") or f"9156000002{card_id.region}{card_id.region}01"
    issuer = IssuerData(
        card_id,
        card.get("card_type", "3"),
        profile.version,
        org,
        card["issue_date"],
        card["expiry"],
        card["card_number"],
    )
    data = {"SSSE/EF05": issuer.encode(layout), "SSSE/EF06": cardholder.encode(layout)}
    data["SSSE/SFI1E"] = dir_records(tree.ssse.dfs)
    declared = tree.files()
    for path, content in (card.get("files") or {}).items():
        ef = declared.get(path)
        if ef is None or not ef.items:
            raise PersonalisationError(f"{path}: no such data file on a {profile} card")
        if ef.write.rule is Rule.NEVER:
            raise PersonalisationError(f"{path}: only the COS writes this file")
        data[path] = encode_file(path, content, layout)
    try:
        check_one_of(data)
    except RecordError as exc:
        raise PersonalisationError(str(exc)) from None
    for path, body in data.items():
        capacity = declared[path].capacity
        if len(body) > capacity:
            raise PersonalisationError(f"{path}: {len(body)} bytes exceed the file's {capacity}")
    pin = _pin_plain(card.get("pin", DEMO_PIN), card.get("pin_tries", PIN_TRIES))
    return _Plan(profile, names, pin, data)


def user_card_content(
    profile: Profile,
    cardholder: Cardholder,
    keys: Mapping[str, bytes],
    *,
    atr: bytes | None = None,
    **card: Unpack[CardData],
) -> dict[str, bytes]:
    """The storage of a personalised card (the fast path; see the module docstring).

    ``keys`` are the card's own keys by key-table name (for example from
    :func:`sbkcard.keys.hierarchy.derive_card_keys` with this card's region and ATR),
    ``MKMF`` and ``MKSSSE`` included; keys missing from it are not loaded. ``card`` is
    :class:`CardData`. ``atr`` defaults to :func:`card_atr`.
    """
    plan = _plan(profile, cardholder, keys, card)
    algorithm = profile.algorithm
    out = blank_card_content(
        plan.keys["MKMF"],
        atr=atr or card_atr(profile, card["card_id"]),
        algorithm=algorithm,
        range_refusal=profile.range_refusal,
    )
    for path, decl in plan.tree.walk():
        if isinstance(decl, DF):
            out[header_key(path)] = df_header(decl).to_bytes()
        else:
            header = ef_header(decl)
            out[header_key(path)] = header.to_bytes()
            out[body_key(path)] = plan.data.get(path, header.initial_body())
    for spec in CARD_KEYS:
        if spec.name in plan.keys and spec.name != "MKMF":
            out.update(_key_entries(spec, plan.keys[spec.name], algorithm))
    out[pin_key("SSSE")] = plan.pin
    out[counter_key("SSSE", None)] = plan.pin[:1]
    return out


def demo_card_content(
    profile: Profile,
    *,
    card_id: CardId = DEMO_CARD_ID,
    card_number: str = DEMO_CARD_NUMBER,
    pin: str | None = DEMO_PIN,
) -> dict[str, bytes]:
    """The demo card of ``profile``: :data:`DEMO_CARDHOLDER`, **published test keys**,
    :func:`demo_files`.

    Another ``card_id`` and ``card_number`` give another card of the same cardholder
    (its keys diversified for its own ATR), the same files on it.
    """
    atr = card_atr(profile, card_id)
    keys = _derive_card_keys(demo_keyset(profile.algorithm), card_id.region, atr)
    return user_card_content(
        profile,
        DEMO_CARDHOLDER,
        keys,
        card_id=card_id,
        card_number=card_number,
        issue_date=DEMO_ISSUE_DATE,
        expiry=DEMO_EXPIRY,
        atr=atr,
        pin=pin,
        files=demo_files(profile),
    )


def demo_files(profile: Profile) -> Mapping[str, FileContent]:
    """:data:`DEMO_FILES`, or :data:`DEMO_FILES_1X` on a 1.00 card."""
    return DEMO_FILES_1X if profile.layout is Layout.V1 else DEMO_FILES


def demo_transport_key(algorithm: Algorithm) -> bytes:
    """The demo batch transport key: **a published TEST KEY** (SM3 of a label)."""
    return sm3(f"{DEMO_LABEL}/{algorithm.name}/transport".encode())[:16]


# -- the personalisation commands ----------------------------------------------------------


def _apdu(header: bytes, data: bytes = b"", le: int | None = None) -> bytes:
    out = header + (bytes((len(data),)) + data if data else b"")
    return out + (bytes((le % 256,)) if le is not None else b"")


def create_file_command(header: EfHeader | DfHeader) -> bytes:
    """CREATE FILE ``80 E0 00 00`` with the header (a child of the current DF)."""
    return _apdu(b"\x80\xe0\x00\x00", header.to_bytes())


def _wrapped(
    p1: int, p2: int, plain: bytes, master: bytes, algorithm: Algorithm, challenge: bytes
) -> bytes:
    cipher = encrypt_data(master, plain, algorithm)
    header = bytes((0x84, 0xD4, p1, p2, len(cipher) + 4))
    return header + cipher + mac(master, header + cipher, algorithm, iv=challenge)


def write_key_command(
    kid: int, record: KeyRecord, master: bytes, algorithm: Algorithm, challenge: bytes
) -> bytes:
    """WRITE KEY ``84 D4 00 KID`` under ``master`` with the card's ``challenge``."""
    return _wrapped(0x00, kid, record.to_bytes(), master, algorithm, challenge)


def write_pin_command(
    pin: str | None, tries: int, master: bytes, algorithm: Algorithm, challenge: bytes
) -> bytes:
    """WRITE PIN ``84 D4 01 00`` (the current DF's PIN) under ``master``."""
    return _wrapped(0x01, 0x00, _pin_plain(pin, tries), master, algorithm, challenge)


def external_auth_command(
    kid: int, key: bytes, algorithm: Algorithm, challenge: bytes, original: bytes = bytes(8)
) -> bytes:
    """EXTERNAL AUTHENTICATE ``00 82 00 KID 10`` answering ``challenge`` (Part 5 §6.4)."""
    sk = session_key(key, challenge, algorithm)
    return _apdu(bytes((0x00, 0x82, 0x00, kid)), auth_data(sk, original, algorithm) + original)


Transmit = Callable[[bytes], bytes]
_CHUNK = 0xF0


class _Machine:
    """A personalisation machine talking to one card through ``transmit``."""

    def __init__(self, transmit: Transmit, algorithm: Algorithm) -> None:
        self.transmit = transmit
        self.algorithm = algorithm

    def send(self, apdu: bytes) -> bytes:
        return self.check(apdu, self.transmit(apdu))

    @staticmethod
    def check(apdu: bytes, response: bytes) -> bytes:
        """The data of ``response`` to ``apdu``, if its status word is a success."""
        sw = int.from_bytes(response[-2:], "big")
        if sw != SW.OK and sw >> 8 != 0x61:
            raise PersonalisationError(f"card answered {sw:04X} to {apdu[:4].hex().upper()}")
        return response[:-2]

    def challenge(self) -> bytes:
        return self.send(b"\x00\x84\x00\x00\x08")

    def authenticate(self, kid: int, key: bytes) -> None:
        self.send(external_auth_command(kid, key, self.algorithm, self.challenge()))

    def authenticate_transport(self, key: bytes) -> None:
        """EXTERNAL AUTHENTICATE with the transport key as the MF master key."""
        apdu = external_auth_command(_KIDS["MKMF"], key, self.algorithm, self.challenge())
        response = self.transmit(apdu)
        if len(response) >= 2 and response[-2] == 0x63 and response[-1] & 0xF0 == 0xC0:
            raise TransportKeyRefused(
                f"the chip refused the transport key (EXTERNAL AUTHENTICATE answered "
                f"{response[-2:].hex().upper()}: {response[-1] & 0x0F} tries left)"
            )
        self.check(apdu, response)

    def write_key(self, kid: int, record: KeyRecord, master: bytes) -> None:
        self.send(write_key_command(kid, record, master, self.algorithm, self.challenge()))

    def select(self, path: str, dfs: Mapping[str, DF]) -> None:
        if path == MF:
            self.send(b"\x00\xa4\x00\x00\x02\x3f\x00")
        else:
            self.send(_apdu(b"\x00\xa4\x04\x00", dfs[path].aid))


def update_commands(ef: EF, body: bytes) -> Iterator[bytes]:
    """UPDATE BINARY / UPDATE RECORD commands that give ``ef`` the content ``body``."""
    assert ef.sfi is not None
    if ef.structure is Structure.TRANSPARENT:
        for offset in range(0, len(body), _CHUNK):
            p1p2 = bytes((0x80 | ef.sfi, 0x00)) if offset == 0 else offset.to_bytes(2, "big")
            yield _apdu(b"\x00\xd6" + p1p2, body[offset : offset + _CHUNK])
        return
    records = split(ef.structure, ef.record_length, body)
    if ef.structure is Structure.CYCLIC:
        for record in reversed(records):
            yield _apdu(bytes((0x00, 0xDC, 0x00, ef.sfi << 3 | 0x03)), record)
        return
    for number, record in enumerate(records, start=1):
        yield _apdu(bytes((0x00, 0xDC, number, ef.sfi << 3 | 0x04)), record)


def personalise(
    transmit: Transmit,
    transport_key: bytes,
    profile: Profile,
    cardholder: Cardholder,
    keys: Mapping[str, bytes],
    **card: Unpack[CardData],
) -> None:
    """Personalise the blank card behind ``transmit`` by APDUs (sequence in the module doc).

    Arguments as :func:`user_card_content`; the card's storage afterwards equals the
    fast path's. Raises :class:`PersonalisationError` on any status word other than
    ``9000``/``61xx``.
    """
    plan = _plan(profile, cardholder, keys, card)
    algorithm = profile.algorithm
    m = _Machine(transmit, algorithm)
    ssse = plan.tree
    dfs = ssse.dedicated()
    master = plan.keys["MKSSSE"]
    by_home: dict[str, list[KeySpec]] = {}
    for spec in CARD_KEYS:
        if spec.name in plan.keys and spec.name not in ("MKMF", "MKSSSE"):
            by_home.setdefault(key_home(spec), []).append(spec)
    # 1–2: the SSSE and its master key, under the transport key.
    m.select(MF, dfs)
    m.authenticate_transport(transport_key)
    m.send(create_file_command(df_header(ssse)))
    m.select("SSSE", dfs)
    mk = card_key("MKSSSE")
    m.write_key(_KIDS["MKSSSE"], key_record(mk, master, algorithm), transport_key)
    # 3–4: files and keys, DF by DF, under MKSSSE.
    for path, df in dfs.items():
        m.select(path, dfs)
        m.authenticate(_KIDS["MKSSSE"], master)
        for ef in df.efs:
            m.send(create_file_command(ef_header(ef)))
        if path == "SSSE":
            for sub in df.dfs:
                m.send(create_file_command(df_header(sub)))
        for spec in by_home.get(path, ()):
            m.write_key(_KIDS[spec.name], key_record(spec, plan.keys[spec.name], algorithm), master)
        if df.pin:
            m.send(_wrapped(0x01, 0x00, plan.pin, master, algorithm, m.challenge()))
    # 5: the data, each file after authentication with its write key.
    files_by_path = plan.profile.tree.files()
    for path, body in plan.data.items():
        ef = files_by_path[path]
        assert ef.write.key is not None
        writer = card_key(ef.write.key).name
        if writer not in plan.keys:
            raise PersonalisationError(f"{path}: writing it needs {writer}, not in the keys")
        m.select(path.rpartition("/")[0], dfs)
        m.authenticate(_KIDS[writer], plan.keys[writer])
        for apdu in update_commands(ef, body):
            m.send(apdu)
    # 6: the card master key replaces the transport key, last.
    m.select(MF, dfs)
    mkmf = card_key("MKMF")
    m.write_key(_KIDS["MKMF"], key_record(mkmf, plan.keys["MKMF"], algorithm), transport_key)
