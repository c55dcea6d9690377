"""One builder per command of the standard (Part 5 §6–7, Part 9 §9).

Each function returns the :class:`~sbkcard.apdu.command.CommandAPDU` with the header,
P1/P2 coding and Lc/Le the standard gives, and checks its arguments (raising
:class:`BuilderError`, a ``ValueError``, naming the argument).

Secure-messaging commands (CLA ``84``: APPLICATION BLOCK, CARD BLOCK, PIN
CHANGE/UNBLOCK, CREATE/CHANGE KEY) take an optional ``mac``: given, the command is
complete; omitted, the command carries the data without MAC, ready for
:func:`sbkcard.apdu.secure_messaging.wrap` to encrypt and MAC it with a key.

Le follows the command's table; ``le=256`` is the Le byte ``00``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from enum import IntEnum

from sbkcard.apdu import bodies
from sbkcard.apdu.command import CommandAPDU
from sbkcard.errors import SbkcardError

SSSE_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
"""The SSSE's DF name "sx1.sh.社会保障" (Part 3 §6.2); also the PSAM's DES-environment MF."""

PSAM_SSF33_DDF_NAME = bytes.fromhex("7378322E73682EC9E7BBE1B1A3D5CF")
"""The PSAM's SSF33 environment DDF1 "sx2.sh.社会保障" (Part 9 §5)."""

PSAM_ADF_AID = bytes.fromhex("D15600000590")
"""The PSAM's social-security ADF DF01 (Part 9 §5)."""

MF_FID = 0x3F00


class BuilderError(SbkcardError, ValueError):
    """An argument a command cannot carry (the message names the argument)."""


def _check_byte(name: str, value: int, low: int = 0, high: int = 0xFF) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BuilderError(f"{name} must be an integer in {low:#04x}..{high:#04x}, got {value!r}")
    return value


def _check_len(name: str, value: bytes, *lengths: int) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise BuilderError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise BuilderError(f"{name} must be {allowed} bytes, got {len(value)}")
    return bytes(value)


def _mac_field(mac: bytes | None) -> bytes:
    return b"" if mac is None else _check_len("mac", mac, 4)


def _amount(name: str, fen: int) -> int:
    if not isinstance(fen, int) or not 0 <= fen <= 0xFFFFFFFF:
        raise BuilderError(f"{name} must be an amount in fen, 0..4294967295, got {fen!r}")
    return fen


def _cn(name: str, value: bytes | str, length: int) -> bytes:
    """A cn field given as bytes or as exactly ``2 * length`` digits."""
    if isinstance(value, str):
        if len(value) != 2 * length or not value.isdigit() or not value.isascii():
            raise BuilderError(f"{name} must be {2 * length} digits, got {value!r}")
        return bytes.fromhex(value)
    return _check_len(name, value, length)


def _bcd_time(name: str, value: datetime.datetime | bytes) -> str:
    """A ``cn 7`` time given as a datetime or as its 7 bytes, as its 14 digits."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y%m%d%H%M%S")
    return _check_len(name, value, 7).hex()


# -- PIN ---------------------------------------------------------------------------------


def encode_pin(pin: str) -> bytes:
    """The PIN as the commands carry it: cn, 4–16 digits, odd count padded with ``F``.

    Part 5 §6.3.1: only the low nibble of the last byte may be padding.
    """
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
        raise BuilderError("PIN must be a string of decimal digits")
    if not 4 <= len(pin) <= 16:
        raise BuilderError(f"PIN must have 4..16 digits, got {len(pin)}")
    return bytes.fromhex(pin + "F" * (len(pin) % 2))


# -- selection and files (Part 5 §6.11, §6.9, §6.10, §6.12, §6.13) ----------------------


def select_by_name(
    name: bytes, *, next_occurrence: bool = False, le: int | None = 256
) -> CommandAPDU:
    """SELECT by DF name / AID: ``00 A4 04 00|02 Lc name 00`` (Lc 05–10)."""
    if not isinstance(name, bytes | bytearray) or not 5 <= len(name) <= 16:
        raise BuilderError(f"DF name must be 5..16 bytes, got {name!r}")
    return CommandAPDU(0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, bytes(name), le)


def select_ssse() -> CommandAPDU:
    """SELECT the SSSE by its name (Part 3 §6.4): ``00 A4 04 00 0F 7378312E… 00``."""
    return select_by_name(SSSE_NAME)


def _fid(fid: int | bytes) -> bytes:
    if isinstance(fid, bytes | bytearray):
        return _check_len("fid", fid, 2)
    return _check_byte("fid", fid, 0, 0xFFFF).to_bytes(2, "big")


def select_by_fid(fid: int | bytes, *, le: int | None = 256) -> CommandAPDU:
    """SELECT an MF or DF by file identifier: ``00 A4 00 00 02 FID 00``."""
    return CommandAPDU(0x00, 0xA4, 0x00, 0x00, _fid(fid), le)


def select_mf() -> CommandAPDU:
    """SELECT the MF: ``00 A4 00 00 02 3F00 00``."""
    return select_by_fid(MF_FID)


def select_ef(fid: int | bytes, *, le: int | None = None) -> CommandAPDU:
    """SELECT an EF under the current DF: ``00 A4 02 00 02 EFxx`` (Part 5 §6.11, no FCI)."""
    return CommandAPDU(0x00, 0xA4, 0x02, 0x00, _fid(fid), le)


def _sfi(sfi: int) -> int:
    return _check_byte("sfi", sfi, 1, 30)


def _binary_p1p2(sfi: int | None, offset: int) -> tuple[int, int]:
    if sfi is None:
        _check_byte("offset", offset, 0, 0x7FFF)
        return offset >> 8, offset & 0xFF
    _check_byte("offset (with an SFI)", offset, 0, 0xFF)
    return 0x80 | _sfi(sfi), offset


def read_binary(*, sfi: int | None = None, offset: int = 0, le: int = 256) -> CommandAPDU:
    """READ BINARY: ``00 B0`` P1 = ``100 SFI`` with P2 = offset, or P1‖P2 = 15-bit offset."""
    p1, p2 = _binary_p1p2(sfi, offset)
    _check_byte("le", le, 1, 256)
    return CommandAPDU(0x00, 0xB0, p1, p2, b"", le)


def update_binary(data: bytes, *, sfi: int | None = None, offset: int = 0) -> CommandAPDU:
    """UPDATE BINARY: ``00 D6`` with READ BINARY's P1/P2 (wrap for CLA ``04``)."""
    p1, p2 = _binary_p1p2(sfi, offset)
    if not 1 <= len(data) <= 255:
        raise BuilderError(f"data must be 1..255 bytes, got {len(data)}")
    return CommandAPDU(0x00, 0xD6, p1, p2, bytes(data))


class RecordMode(IntEnum):
    """b3–b1 of READ/UPDATE RECORD's P2 (Part 5 tables 32, 44)."""

    FIRST_OCCURRENCE = 0b000
    """The first record whose identifier (tag) is P1."""
    LAST_OCCURRENCE = 0b001
    NEXT_OCCURRENCE = 0b010
    PREVIOUS_OCCURRENCE = 0b011
    RECORD = 0b100
    """The record numbered P1 (``00``: the current record)."""
    FROM_RECORD_TO_LAST = 0b101
    FROM_LAST_TO_RECORD = 0b110

    @property
    def by_identifier(self) -> bool:
        """Whether P1 is a record identifier (tag) rather than a record number."""
        return self.value < 0b100


def record_p2(sfi: int | None, mode: RecordMode) -> int:
    """P2 = SFI << 3 | mode (SFI ``None``: the current EF)."""
    return ((0 if sfi is None else _sfi(sfi)) << 3) | RecordMode(mode)


def read_record(
    p1: int, *, sfi: int | None = None, mode: RecordMode = RecordMode.RECORD, le: int = 256
) -> CommandAPDU:
    """READ RECORD: ``00 B2 P1 (SFI<<3 | mode) Le`` (P1: record number or identifier).

    Le ``00`` (256) makes the card answer ``6Cxx`` with the exact length (Part 5 §6.10.4).
    Example (vendor readers): ``read_record(7, sfi=5, le=0x0B)`` is ``00 B2 07 2C 0B``.
    """
    _check_byte("record", p1, 0, 0xFE)
    _check_byte("le", le, 1, 256)
    return CommandAPDU(0x00, 0xB2, p1, record_p2(sfi, mode), b"", le)


def update_record(
    p1: int, data: bytes, *, sfi: int | None = None, mode: RecordMode = RecordMode.RECORD
) -> CommandAPDU:
    """UPDATE RECORD: ``00 DC P1 (SFI<<3 | mode) Lc record`` (wrap for CLA ``04``).

    Modes: the record numbered P1, or the first/last/next/previous occurrence of the
    identifier P1 (Part 5 table 44); a missing record is appended.
    """
    _check_byte("record", p1, 0, 0xFE)
    if mode in (RecordMode.FROM_RECORD_TO_LAST, RecordMode.FROM_LAST_TO_RECORD):
        raise BuilderError(f"UPDATE RECORD has no mode {mode.name} (Part 5 table 44)")
    if not 1 <= len(data) <= 255:
        raise BuilderError(f"record must be 1..255 bytes, got {len(data)}")
    return CommandAPDU(0x00, 0xDC, p1, record_p2(sfi, mode), bytes(data))


# -- PIN commands (Part 5 §6.14, §6.3, §6.8) -------------------------------------------


def verify(pin: str | None) -> CommandAPDU:
    """VERIFY: ``00 20 00 00 Lc PIN`` (cn, F-padded); ``None`` asks for the tries left.

    Example (a real trace): ``verify("123456")`` is ``00 20 00 00 03 12 34 56``.
    """
    return CommandAPDU(0x00, 0x20, 0x00, 0x00, b"" if pin is None else encode_pin(pin))


def change_pin(old: str | None, new: str | None) -> CommandAPDU:
    """CHANGE PIN: ``80 5E 01 00 Lc old ‖ FF ‖ new`` in clear (``None``: no PIN)."""
    data = (b"" if old is None else encode_pin(old)) + b"\xff"
    data += b"" if new is None else encode_pin(new)
    if len(data) < 3:
        raise BuilderError("CHANGE PIN needs at least one of the old and new PINs")
    return CommandAPDU(0x80, 0x5E, 0x01, 0x00, data)


class PinOperation(IntEnum):
    """P2 of PIN CHANGE/UNBLOCK ``84 24`` (Part 5 table 25)."""

    UNBLOCK = 0x00
    RELOAD = 0x01


def pin_unblock(mac: bytes | None = None) -> CommandAPDU:
    """PIN UNBLOCK: ``84 24 00 00 04 MAC`` (resets the tries, keeps the PIN)."""
    return CommandAPDU(0x84, 0x24, 0x00, PinOperation.UNBLOCK, _mac_field(mac))


def pin_reload(pin_data: bytes, mac: bytes | None = None) -> CommandAPDU:
    """PIN CHANGE (reload): ``84 24 00 01 Lc pin_data ‖ MAC``, Lc ``0C`` or ``14``.

    With ``mac``, ``pin_data`` is the enciphered PIN block (8 or 16 bytes, Part 4 §8.3);
    without, it is the clear PIN (:func:`encode_pin`, or empty to clear the PIN) for
    ``wrap(..., encrypt=True)``.
    """
    if mac is not None:
        _check_len("pin_data (enciphered)", pin_data, 8, 16)
    elif len(pin_data) > 8:
        raise BuilderError(f"clear pin_data must be at most 8 bytes, got {len(pin_data)}")
    return CommandAPDU(0x84, 0x24, 0x00, PinOperation.RELOAD, bytes(pin_data) + _mac_field(mac))


# -- authentication (Part 5 §6.4, §6.5, §6.7) -----------------------------------------


def key_id(number: int, *, local: bool = False) -> int:
    """A key identifier byte: b8 = 1 for a DF-local key, b5–b1 the key number (table 14)."""
    _check_byte("key number", number, 0, 0x1F)
    return (0x80 if local else 0x00) | number


def _auth_data(
    body: object, first: str, value: bytes, original: bytes, version: int | None
) -> bytes:
    return bodies.build(
        body,
        **{first: _check_len("authentication data", value, 8)},
        original=_check_len("original data", original, 8),
        version=None if version is None else _check_byte("key version", version),
    )


def get_challenge(length: int = 4) -> CommandAPDU:
    """GET CHALLENGE: ``00 84 00 00 Le`` with Le 4, 8 or 16."""
    if length not in (4, 8, 16):
        raise BuilderError(f"challenge length must be 4, 8 or 16, got {length}")
    return CommandAPDU(0x00, 0x84, 0x00, 0x00, b"", length)


def external_authenticate(
    kid: int, auth: bytes, original: bytes, version: int | None = None
) -> CommandAPDU:
    """EXTERNAL AUTHENTICATE: ``00 82 00 KID Lc auth(8) ‖ original(8) [‖ version]``.

    ``kid`` is the key-id byte (see :func:`key_id`); the card and the PSAM share it.
    """
    data = _auth_data(bodies.EXTERNAL_AUTHENTICATE, "auth", auth, original, version)
    return CommandAPDU(0x00, 0x82, 0x00, _check_byte("kid", kid), data)


def internal_authenticate(
    session_input: bytes, original: bytes, version: int | None = None, *, kid: int = 0x00
) -> CommandAPDU:
    """INTERNAL AUTHENTICATE: ``00 88 00 KID Lc input(8) ‖ original(8) [‖ version] 00``.

    The IRK is key ``00`` (Part 9 table B1); the answer is the 8-byte authentication data.
    """
    data = _auth_data(bodies.INTERNAL_AUTHENTICATE, "factor", session_input, original, version)
    return CommandAPDU(0x00, 0x88, 0x00, _check_byte("kid", kid), data, 256)


def get_response(le: int) -> CommandAPDU:
    """GET RESPONSE: ``00 C0 00 00 Le``."""
    return CommandAPDU(0x00, 0xC0, 0x00, 0x00, b"", _check_byte("le", le, 1, 256))


# -- blocking (Part 5 §6.1, §6.2) -----------------------------------------------------


def application_block(mac: bytes | None = None) -> CommandAPDU:
    """APPLICATION BLOCK: ``84 1E 00 01 04 MAC``."""
    return CommandAPDU(0x84, 0x1E, 0x00, 0x01, _mac_field(mac))


def card_block(mac: bytes | None = None) -> CommandAPDU:
    """CARD BLOCK: ``84 16 00 00 04 MAC``."""
    return CommandAPDU(0x84, 0x16, 0x00, 0x00, _mac_field(mac))


# -- medical purse (Part 5 §7) --------------------------------------------------------


def initialize_for_load(key_index: int, amount: int, terminal: bytes | str) -> CommandAPDU:
    """INITIALIZE FOR LOAD: ``B0 28 00 01 0B`` key index ‖ amount ‖ terminal no, Le ``10``."""
    data = bodies.build(
        bodies.INITIALIZE_FOR_LOAD,
        key_index=_check_byte("key_index", key_index),
        amount=_amount("amount", amount),
        terminal=_cn("terminal", terminal, 6),
    )
    return CommandAPDU(0xB0, 0x28, 0x00, 0x01, data, 0x10)


def initialize_for_purchase(
    key_index: int, account: int, self_paid: int, pooled: int, terminal: bytes | str
) -> CommandAPDU:
    """INITIALIZE FOR PURCHASE: ``B0 28 01 01 13`` … Le ``16`` (Part 5 tables 69–71).

    Data: key index 1 ‖ account payment 4 ‖ self-paid 4 ‖ pooled-fund 4 ‖ terminal no 6.
    """
    data = bodies.build(
        bodies.INITIALIZE_FOR_PURCHASE,
        key_index=_check_byte("key_index", key_index),
        account=_amount("account", account),
        self_paid=_amount("self_paid", self_paid),
        pooled=_amount("pooled", pooled),
        terminal=_cn("terminal", terminal, 6),
    )
    return CommandAPDU(0xB0, 0x28, 0x01, 0x01, data, 0x16)


def credit_for_load(host_time: datetime.datetime | bytes, mac2: bytes) -> CommandAPDU:
    """CREDIT FOR LOAD: ``B0 2A 00 00 0B`` host time(7, CCYYMMDDhhmmss) ‖ MAC2, Le ``04``."""
    data = bodies.build(
        bodies.CREDIT_FOR_LOAD,
        time=_bcd_time("host_time", host_time),
        mac2=_check_len("mac2", mac2, 4),
    )
    return CommandAPDU(0xB0, 0x2A, 0x00, 0x00, data, 0x04)


def debit_for_purchase(
    terminal_seq: int, time: datetime.datetime | bytes, mac1: bytes
) -> CommandAPDU:
    """DEBIT FOR PURCHASE: ``B0 2C 01 00 0F`` terminal seq 4 ‖ time 7 ‖ MAC1, Le ``08``."""
    if not isinstance(terminal_seq, int) or not 0 <= terminal_seq <= 0xFFFFFFFF:
        raise BuilderError(f"terminal_seq must fit 4 bytes, got {terminal_seq!r}")
    data = bodies.build(
        bodies.DEBIT_FOR_PURCHASE,
        terminal_seq=terminal_seq,
        time=_bcd_time("time", time),
        mac1=_check_len("mac1", mac1, 4),
    )
    return CommandAPDU(0xB0, 0x2C, 0x01, 0x00, data, 0x08)


class Balance(IntEnum):
    """P2 of GET BALANCE (Part 5 table 58)."""

    CIA = 0x01
    """卡内基本医疗保险个人帐户余额, Le 04."""
    SPIP = 0x02
    """年度个人自付累计金额 and the payment year, Le 06."""
    SPFP = 0x03
    """年度统筹基金支付累计金额 and the payment year, Le 06."""


def get_balance(which: Balance = Balance.CIA) -> CommandAPDU:
    """GET BALANCE: ``B0 26 00 01|02|03`` Le ``04`` / ``06`` / ``06``."""
    which = Balance(which)
    return CommandAPDU(0xB0, 0x26, 0x00, which, b"", 0x04 if which is Balance.CIA else 0x06)


def get_transaction_proof(transaction_type: int, sequence: int) -> CommandAPDU:
    """GET TRANSACTION PROOF: ``B0 2E 00 type 02 seq(2)``, Le ``08`` (MAC 4 ‖ TAC 4)."""
    _check_byte("sequence", sequence, 0, 0xFFFF)
    return CommandAPDU(
        0xB0,
        0x2E,
        0x00,
        _check_byte("transaction_type", transaction_type),
        bodies.build(bodies.GET_TRANSACTION_PROOF, seq=sequence),
        0x08,
    )


def update_starting_day(month: int, day: int) -> CommandAPDU:
    """UPDATE STARTING DAY: ``B0 56 00 00 02 MMDD`` (cn)."""
    _check_byte("month", month, 1, 12)
    _check_byte("day", day, 1, 31)
    try:
        datetime.date(2000, month, day)
    except ValueError as exc:
        raise BuilderError(f"starting day {month:02d}-{day:02d}: {exc}") from exc
    data = bodies.build(bodies.STARTING_DAY, start=f"{month:02d}{day:02d}")
    return CommandAPDU(0xB0, 0x56, 0x00, 0x00, data)


def get_starting_day() -> CommandAPDU:
    """GET STARTING DAY: ``B0 56 01 00``, Le ``02`` (MMDD)."""
    return CommandAPDU(0xB0, 0x56, 0x01, 0x00, b"", 0x02)


# -- PSAM (Part 9 §9) ---------------------------------------------------------


def initialize_environment(card_id_first_byte: int) -> CommandAPDU:
    """INITIALIZE ENVIRONMENT: ``BF EC 00 00 01 xx`` (xx: first byte of the card ID)."""
    province = _check_byte("card_id_first_byte", card_id_first_byte)
    data = bodies.build(bodies.INITIALIZE_ENVIRONMENT, province=bytes((province,)))
    return CommandAPDU(0xBF, 0xEC, 0x00, 0x00, data)


def _factors(factors: Sequence[bytes], low: int) -> list[bytes]:
    if not low <= len(factors) <= 3:
        raise BuilderError(f"{low}..3 diversification factors expected, got {len(factors)}")
    return [_check_len(f"factor {i}", f, 8) for i, f in enumerate(factors)]


def delivery_session_key(
    usage: int, kid: int, factors: Sequence[bytes], session_input: bytes
) -> CommandAPDU:
    """DELIVERY SESSION KEY: ``BF DE usage KID Lc factors ‖ session input`` (Lc M + 8N).

    ``factors`` in the order the command carries them: the card-level factor first, then
    the city's, then the province's (Part 9 §9.7; the reverse of
    :func:`sbkcard.keys.diversify`'s order).  ``session_input`` is 8 bytes (DES) or 16
    (SSF33, SM4), a shorter random right-padded with ``00`` by the caller.
    """
    data = b"".join(_factors(factors, 0)) + _check_len("session_input", session_input, 8, 16)
    return CommandAPDU(0xBF, 0xDE, _check_byte("usage", usage), _check_byte("kid", kid), data)


class CipherMode(IntEnum):
    """P1 of CIPHER DATA ``80 FA`` (Part 9 table 25)."""

    ENCRYPT_LAST = 0x00
    """Encrypt, no block follows."""
    MAC_LAST = 0x01
    ENCRYPT_MORE = 0x02
    """Encrypt, more blocks follow."""
    MAC_NEXT = 0x03
    MAC_SINGLE = 0x05
    """MAC of a single command; the first block is the IV."""
    MAC_FIRST = 0x07
    """First MAC block; the first block is the IV."""

    @property
    def is_mac(self) -> bool:
        """Whether the mode computes a MAC (else it encrypts)."""
        return bool(self.value & 0x01)


def cipher_data(mode: CipherMode, data: bytes, *, le: int | None = None) -> CommandAPDU:
    """CIPHER DATA: ``80 FA P1 00 Lc data`` (Lc a multiple of 8, at most ``80``).

    The result usually comes back with ``61xx`` and GET RESPONSE (as a real PSAM does).
    """
    if not data or len(data) % 8 or len(data) > 0x80:
        raise BuilderError(f"CIPHER DATA takes 8..128 bytes in whole blocks, got {len(data)}")
    return CommandAPDU(0x80, 0xFA, CipherMode(mode), 0x00, bytes(data), le)


def init_sam_for_purchase(
    *,
    card_random: bytes,
    card_sequence: int,
    account: int,
    self_paid: int,
    pooled: int,
    transaction_type: int,
    time: datetime.datetime,
    key_version: int,
    algorithm: int,
    factors: Sequence[bytes],
) -> CommandAPDU:
    """INIT SAM FOR PURCHASE: ``80 70 01 00 1C+8N`` …, Le ``08`` (terminal seq ‖ MAC1).

    Data (Part 9 table 27): card random 4 ‖ card purchase sequence 2 ‖ account payment 4
    ‖ self-paid 4 ‖ pooled-fund 4 ‖ transaction type 1 ‖ date 4 ‖ time 3 ‖ key version
    1 ‖ algorithm 1 ‖ factors (card level first, 1–3 of them).
    """
    data = bodies.build(
        bodies.INIT_SAM_FOR_PURCHASE,
        random=_check_len("card_random", card_random, 4),
        seq=_check_byte("card_sequence", card_sequence, 0, 0xFFFF),
        account=_amount("account", account),
        self_paid=_amount("self_paid", self_paid),
        pooled=_amount("pooled", pooled),
        kind=_check_byte("transaction_type", transaction_type),
        date=time.strftime("%Y%m%d"),
        time=time.strftime("%H%M%S"),
        key_version=_check_byte("key_version", key_version),
        algorithm=_check_byte("algorithm", algorithm),
        factors=_factors(factors, 1),
    )
    return CommandAPDU(0x80, 0x70, 0x01, 0x00, data, 0x08)


def credit_sam_for_purchase(mac2: bytes) -> CommandAPDU:
    """CREDIT SAM FOR PURCHASE: ``80 72 00 00 04 MAC2`` (``63CF``: MAC2 wrong)."""
    data = bodies.build(bodies.CREDIT_SAM_FOR_PURCHASE, mac2=_check_len("mac2", mac2, 4))
    return CommandAPDU(0x80, 0x72, 0x00, 0x00, data)


class PsamKeyAlgorithm(IntEnum):
    """The algorithm byte of a PSAM key record (Part 9 §6.2)."""

    TRIPLE_DES = 0x00
    DES = 0x01
    SSF33 = 0x02


def create_key_record(usage: int, ident: int, algorithm: PsamKeyAlgorithm, key: bytes) -> bytes:
    """The clear data of CREATE KEY: usage ‖ id/version ‖ 00 ‖ alg ‖ 00000000 ‖ key (§9.5)."""
    algorithm = PsamKeyAlgorithm(algorithm)
    _check_len("key", key, 8 if algorithm is PsamKeyAlgorithm.DES else 16)
    head = bytes((_check_byte("usage", usage), _check_byte("ident", ident), 0x00, algorithm))
    return head + bytes(4) + bytes(key)


def change_key_record(usage: int, ident: int, key: bytes) -> bytes:
    """The clear data of CHANGE KEY: usage ‖ id/version ‖ 00 ‖ key (Part 9 §9.6.1)."""
    _check_len("key", key, 8, 16)
    return bytes((_check_byte("usage", usage), _check_byte("ident", ident), 0x00)) + bytes(key)


def _key_command(p1: int, key_file: int, data: bytes, mac: bytes | None) -> CommandAPDU:
    if mac is not None and (not data or len(data) % 8):
        raise BuilderError(f"enciphered key data must be whole blocks, got {len(data)} bytes")
    return CommandAPDU(
        0x84, 0xD4, p1, _check_byte("key_file", key_file), bytes(data) + _mac_field(mac)
    )


def create_key(key_file: int, data: bytes, mac: bytes | None = None) -> CommandAPDU:
    """CREATE KEY: ``84 D4 00 <key file> Lc enciphered record ‖ MAC`` (Lc ``1C``/``24``).

    Without ``mac``, ``data`` is the clear record (:func:`create_key_record`) for
    ``wrap(cmd, master_key, algorithm, encrypt=True, iv=challenge)``.
    """
    return _key_command(0x00, key_file, data, mac)


def change_key(key_file: int, data: bytes, mac: bytes | None = None) -> CommandAPDU:
    """CHANGE KEY: ``84 D4 01 <key file> Lc enciphered record ‖ MAC`` (Lc ``14``/``1C``/``24``)."""
    return _key_command(0x01, key_file, data, mac)
