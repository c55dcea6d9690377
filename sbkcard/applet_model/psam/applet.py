"""The PSAM applet: the commands of Part 9 §9 over the file system of :mod:`.layout`.

Everything persistent (files, key records, the terminal sequence, retry counters) is in
the :class:`~sbkcard.applet_model.storage.Storage`, read and written in one transaction
per command; a command that ends in an error status writes nothing, except a failed
EXTERNAL AUTHENTICATE, which counts the try down.  What a COS keeps in RAM is volatile
and cleared at power-up: the current DF and EF, the last challenge, the keys
authenticated, the session key of DELIVERY SESSION KEY, the purchase in progress
(SESPK) and the response data waiting for GET RESPONSE.

Transmission is T=0, as the ATR ``3B 6x 00 00`` of :func:`.content.psam_atr` announces
(Part 2 §9: the card uses the character protocol T=0 only).  A command that sends data
and gets data back (case 4: SELECT, CIPHER DATA, INIT SAM FOR PURCHASE) is answered
``61xx`` whatever Le it carries, and its data wait for GET RESPONSE (``80 FA 00 00 08 …``
then ``00 C0 00 00 08`` in a real trace; Part 2 §9.3.1.4); so is a command sent with neither data
nor Le (case 1, T=0 header P3 = ``00``).  A case-2 command (READ BINARY, READ RECORD, GET
CHALLENGE, GET RESPONSE, SELECT of the MF without data) gets its data at once when Le is
the response's length; another Le, ``00`` included, is answered ``6Cxx`` and the command
is not executed (Part 2 §9.3.2.1).  As on the user card, READ BINARY reads Le bytes, or
up to the end of the file for Le ``00``; an Le past the end is ``6Cxx`` with the bytes
there are.  GET RESPONSE with a shorter Le hands over part and ``61xx`` for the rest.

Status words follow Part 9 tables 12–31.  Where the standard leaves a choice, sbkcard's:

- a diversification level count (the factors sent, or the usage byte's b8–b6) that is
  not the key's is ``6A80``, "分散级数不符" of table 24, for DELIVERY SESSION KEY and
  also for INIT SAM FOR PURCHASE, whose §9.9.2 asks for "an error" when Lc and the key
  disagree without naming it (a terminal probing the depth, Part 9 §8, then sees one
  status word for one condition);
- a key that is not there is ``6A88`` (tables 18, 24, 29); the user card's ``9403`` is
  its own INITIALIZE FOR PURCHASE's;
- a session key whose type forbids the operation (a MAC key asked to encrypt, Part 9
  §6.3) is ``6985``; a session key already used for that kind of computation, or none
  at all, is ``6901``.  DELIVERY SESSION KEY prepares one key for one encryption (one
  or several ``02`` blocks then ``00``) and one MAC (``07``/``03``…/``01`` or ``05``),
  Part 9 §9.8.2;
- CIPHER DATA returns a MAC of 4 bytes (Part 4 §8.2.2): the left half of the last CBC
  block for DES, the XOR fold of the 16-byte block for SM4, as :func:`sbkcard.keys.mac`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from hmac import compare_digest

from sbkcard.apdu import SW, ApduFormatError, CommandAPDU, bodies, more_data, tries_left, wrong_le
from sbkcard.apdu.tlv import build_ber_tlv
from sbkcard.applet_model.applet import CardRefusal, log_fault
from sbkcard.applet_model.psam.errors import PsamError
from sbkcard.applet_model.psam.files import decode_sequence, encode_sequence
from sbkcard.applet_model.psam.key_records import (
    Authority,
    KeyAlgorithm,
    KeyHolder,
    KeyRecord,
    KeyType,
    Operation,
    allocation_of,
    split_usage,
)
from sbkcard.applet_model.psam.layout import (
    ADF_AID,
    ADF_FID,
    DES_ENVIRONMENT,
    DIR_FID,
    ENVIRONMENTS,
    MF_FID,
    EfSpec,
    Environment,
    Structure,
    file_spec,
)
from sbkcard.applet_model.storage import Storage, Transaction
from sbkcard.keys import (
    Algorithm,
    CryptoError,
    UnsupportedAlgorithmError,
    auth_data,
    decrypt_data,
    diversify,
    encrypt_block,
    mac,
    session_key,
)
from sbkcard.keys.mac import cbc_chain, mac_of_chain

__all__ = ["AUTH_KEY_TRIES", "PURCHASE_DATA_LENGTH", "Psam"]

AUTH_KEY_TRIES = 3
"""Tries of a PSAM authentication key (KID-01…03) before it locks (``6983``)."""

PURCHASE_DATA_LENGTH = 0x1C
"""INIT SAM FOR PURCHASE data before the factors (Part 9 table 27)."""

MAC_LENGTH = 4
_log = logging.getLogger(__name__)
_PURCHASE_FILES = (Authority.NATIONAL, Authority.PROVINCIAL, Authority.CITY)
_KEY_COMMAND_LC = {
    # (environment block size, P1) → Lc values of Part 9 tables 19 and 21
    (8, 0x00): (0x1C, 0x24),
    (8, 0x01): (0x14, 0x1C),
    (16, 0x00): (0x24,),
    (16, 0x01): (0x24,),
}


@dataclass(frozen=True)
class _Location:
    """The current DF: an environment's DDF, or its ADF (DF01)."""

    env: Environment
    in_adf: bool


@dataclass
class _Session:
    """The temporary key register filled by DELIVERY SESSION KEY (Part 9 §7.4, §9.7)."""

    key: bytes
    cipher: Algorithm
    allowed: frozenset[Operation]
    unused: set[Operation] = field(default_factory=set)
    chain: bytes | None = None
    """The CBC value of a MAC begun with P1 = 07 and not yet finished."""


@dataclass(frozen=True)
class _Purchase:
    """INIT SAM FOR PURCHASE done: SESPK and the amounts MAC2 must cover (Part 7 §12.7)."""

    sespk: bytes
    cipher: Algorithm
    amounts: bytes


_Answer = tuple[bytes, int]
_Handler = Callable[["Psam", CommandAPDU, Transaction], _Answer]


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _check_le(cmd: CommandAPDU, length: int) -> None:
    """Reject (``6Cxx``) a case-2 Le other than the ``length`` bytes of the response.

    T=0, Part 2 §9.3.2.1: Le ``00`` asks for 256 bytes, so it too is answered ``6Cxx``
    unless the response has 256 bytes.  A command with no response data ignores Le, and
    so does a case-4 command, whose Le a T=0 card never sees (Part 2 §9.3.1.4).
    """
    if length and not cmd.data and cmd.le is not None and cmd.le != length:
        raise CardRefusal(wrong_le(length))


def _is_bcd(value: int) -> bool:
    return value >> 4 <= 9 and value & 0x0F <= 9


class Psam:
    """The social security PSAM (Part 9) on ``storage``.

    ``random`` supplies GET CHALLENGE's bytes (``os.urandom`` by default; tests pass a
    deterministic source).  Build the storage with
    :func:`~sbkcard.applet_model.psam.content.psam_content`.
    """

    storage: Storage

    def __init__(self, storage: Storage, *, random: Callable[[int], bytes] = os.urandom) -> None:
        self.storage = storage
        self._random = random
        self._pending = b""
        self._held = b""
        self._location = _Location(DES_ENVIRONMENT, False)
        self._ef: int | None = None
        self._challenge: bytes | None = None
        self._authenticated: set[int] = set()
        self._session: _Session | None = None
        self._purchase: _Purchase | None = None
        self.power_on()

    # -- the Applet protocol -------------------------------------------------------------

    def power_on(self) -> None:
        """Clear everything volatile; the MF (DES environment) is the current DF."""
        self._pending = b""
        self._held = b""
        self._location = _Location(DES_ENVIRONMENT, False)
        self._ef = None
        self._reset_security()

    def process(self, apdu: bytes) -> bytes:
        """Execute one command APDU; returns response data ‖ SW1 SW2 and never raises."""
        self._held, self._pending = self._pending, b""
        try:
            cmd = CommandAPDU.from_bytes(apdu)
        except ApduFormatError:
            return _sw(SW.WRONG_LENGTH)
        try:
            handler = self._handler(cmd)
            if cmd.extended:
                raise CardRefusal(SW.WRONG_LENGTH)
            with self.storage.transaction() as tx:
                data, sw = handler(self, cmd, tx)
        except CardRefusal as refusal:
            return _sw(refusal.sw)
        except UnsupportedAlgorithmError:
            return _sw(SW.FUNCTION_NOT_SUPPORTED)
        except Exception as exc:  # a COS answers, whatever happened inside it
            log_fault(_log, apdu, exc)
            return _sw(SW.UNKNOWN)
        if sw == SW.OK and data and (cmd.data or cmd.le is None):
            self._pending = data
            return _sw(more_data(len(data)))
        return data + _sw(sw)

    @staticmethod
    def _handler(cmd: CommandAPDU) -> _Handler:
        entry = _COMMANDS.get(cmd.ins)
        if entry is None:
            known = cmd.cla in _CLASSES
            raise CardRefusal(SW.INS_NOT_SUPPORTED if known else SW.CLA_NOT_SUPPORTED)
        cla, handler = entry
        if cmd.cla != cla:
            raise CardRefusal(SW.CLA_NOT_SUPPORTED)
        return handler

    # -- state helpers -------------------------------------------------------------------

    def _reset_security(self) -> None:
        self._challenge = None
        self._authenticated = set()
        self._session = None
        self._purchase = None

    def _require_adf(self) -> Environment:
        if not self._location.in_adf:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        return self._location.env

    @staticmethod
    def _record(
        tx: Transaction, env: Environment, authority: Authority, key_type: int, ident: int
    ) -> KeyRecord | None:
        raw = tx.read(env.key_record_key(authority, key_type, ident))
        return None if raw is None else KeyRecord.from_bytes(raw)

    def _ef_in_current_df(self, fid: int) -> EfSpec:
        spec = file_spec(fid)
        if spec is None or spec.in_adf != self._location.in_adf:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        return spec

    # -- SELECT (Part 9 §9.1) ------------------------------------------------------------

    def _select(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p2 != 0x00:
            raise CardRefusal(SW.WRONG_P1P2)
        data = cmd.data
        if cmd.p1 == 0x04:
            if not 5 <= len(data) <= 16:
                raise CardRefusal(SW.WRONG_LENGTH)
            target = self._by_name(tx, data)
        elif cmd.p1 == 0x00:
            if data and len(data) != 2:
                raise CardRefusal(SW.WRONG_LENGTH)
            target = self._by_df_fid(tx, int.from_bytes(data) if data else MF_FID)
        elif cmd.p1 == 0x02:
            if len(data) != 2:
                raise CardRefusal(SW.WRONG_LENGTH)
            spec = self._ef_in_current_df(int.from_bytes(data))
            env = self._location.env
            if spec.structure is Structure.TRANSPARENT and tx.read(env.ef_key(spec.fid)) is None:
                raise CardRefusal(SW.FILE_NOT_FOUND)
            self._ef = spec.fid
            return b"", SW.OK
        else:
            raise CardRefusal(SW.WRONG_P1P2)
        fci = self._fci(tx, target)
        _check_le(cmd, len(fci))
        if target != self._location:
            self._location = target
            self._reset_security()
        self._ef = None
        return fci, SW.OK

    def _by_name(self, tx: Transaction, name: bytes) -> _Location:
        return self._find_df(tx, lambda env: env.ddf_name == name, name == ADF_AID)

    def _by_df_fid(self, tx: Transaction, fid: int) -> _Location:
        return self._find_df(tx, lambda env: env.ddf_fid == fid, fid == ADF_FID)

    def _find_df(
        self, tx: Transaction, is_ddf: Callable[[Environment], bool], is_adf: bool
    ) -> _Location:
        """The DDF of an environment that exists, else the current environment's ADF."""
        for env in ENVIRONMENTS:
            if is_ddf(env) and tx.read(env.path) is not None:
                return _Location(env, False)
        env = self._location.env
        if is_adf and tx.read(env.adf_path) is not None:
            return _Location(env, True)
        raise CardRefusal(SW.FILE_NOT_FOUND)

    @staticmethod
    def _fci(tx: Transaction, target: _Location) -> bytes:
        """FCI of a DDF (Part 5 tables 36–37) or of the ADF (table 38)."""
        env = target.env
        if target.in_adf:
            return build_ber_tlv(0x6F, build_ber_tlv(0x84, ADF_AID))
        proprietary = build_ber_tlv(0x88, bytes((DIR_FID & 0x1F,)))
        public = tx.read(env.ef_key(0x0015))
        if public is not None:
            proprietary += build_ber_tlv(0x9F0C, public[13:15])
        return build_ber_tlv(
            0x6F, build_ber_tlv(0x84, env.ddf_name) + build_ber_tlv(0xA5, proprietary)
        )

    # -- READ BINARY, READ RECORD (Part 5 §6.5, §6.6) -------------------------------------

    def _read_binary(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.data or cmd.le is None:
            raise CardRefusal(SW.WRONG_LENGTH)
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60:
                raise CardRefusal(SW.WRONG_P1P2)
            spec = self._by_sfi(cmd.p1 & 0x1F)
            offset = cmd.p2
        else:
            spec = self._current_ef()
            offset = cmd.p1 << 8 | cmd.p2
        if spec.structure is not Structure.TRANSPARENT:
            raise CardRefusal(SW.INCOMPATIBLE_FILE)
        content = tx.read(self._location.env.ef_key(spec.fid))
        if content is None:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        self._ef = spec.fid
        if offset >= len(content):
            raise CardRefusal(SW.WRONG_OFFSET)
        available = len(content) - offset
        if cmd.le != 256 and cmd.le > available:
            raise CardRefusal(wrong_le(available))
        return content[offset : offset + min(cmd.le, available)], SW.OK

    def _read_record(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.data or cmd.le is None:
            raise CardRefusal(SW.WRONG_LENGTH)
        if cmd.p2 & 0x07 != 0x04 or cmd.p1 == 0:
            raise CardRefusal(SW.WRONG_P1P2)
        sfi = cmd.p2 >> 3
        spec = self._by_sfi(sfi) if sfi else self._current_ef()
        if spec.structure is not Structure.RECORD:
            raise CardRefusal(SW.INCOMPATIBLE_FILE)
        self._ef = spec.fid
        record = tx.read(self._location.env.dir_record_key(cmd.p1))
        if record is None:
            raise CardRefusal(SW.RECORD_NOT_FOUND)
        _check_le(cmd, len(record))
        return record, SW.OK

    def _by_sfi(self, sfi: int) -> EfSpec:
        if sfi == 0:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        return self._ef_in_current_df(sfi)

    def _current_ef(self) -> EfSpec:
        if self._ef is None:
            raise CardRefusal(SW.NO_CURRENT_EF)
        return self._ef_in_current_df(self._ef)

    # -- GET CHALLENGE, GET RESPONSE ------------------------------------------------------

    def _get_challenge(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if cmd.data or cmd.le not in self._location.env.challenge_lengths:
            raise CardRefusal(SW.WRONG_LENGTH)
        self._challenge = self._random(cmd.le)
        return self._challenge, SW.OK

    def _get_response(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if cmd.data or cmd.le is None:
            raise CardRefusal(SW.WRONG_LENGTH)
        held = self._held
        if not held:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if cmd.le == len(held):
            return held, SW.OK
        if cmd.le > len(held):
            self._pending = held
            raise CardRefusal(wrong_le(len(held)))
        self._pending = held[cmd.le :]
        return held[: cmd.le], more_data(len(self._pending))

    # -- EXTERNAL AUTHENTICATE (Part 9 §9.4) ------------------------------------------------

    def _external_authenticate(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1:
            raise CardRefusal(SW.WRONG_P1P2)
        data = cmd.data
        if len(data) not in (0x10, 0x11):
            raise CardRefusal(SW.WRONG_LENGTH)
        env = self._require_adf()
        challenge, self._challenge = self._challenge, None
        if challenge is None:
            raise CardRefusal(SW.REF_DATA_INVALID)
        kid = cmd.p2
        cell = allocation_of(kid)
        record = None
        body = bodies.parse(bodies.EXTERNAL_AUTHENTICATE, data)
        if cell is not None and cell.holder is KeyHolder.PSAM and body.version in (None, 0):
            record = self._record(tx, env, cell.authority, KeyType.MAINTENANCE, kid)
        if record is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        counter = tx.read(env.tries_key(kid)) or bytes((AUTH_KEY_TRIES, AUTH_KEY_TRIES))
        maximum, left = counter[0], counter[1]
        if left == 0:
            raise CardRefusal(SW.AUTH_BLOCKED)
        cipher = record.algorithm.cipher
        expected = auth_data(session_key(record.key, challenge, cipher), body.original, cipher)
        if compare_digest(expected, body.auth):
            if left != maximum:
                tx.write(env.tries_key(kid), bytes((maximum, maximum)))
            self._authenticated.add(kid)
            return b"", SW.OK
        tx.write(env.tries_key(kid), bytes((maximum, left - 1)))
        return b"", tries_left(left - 1)

    # -- INITIALIZE ENVIRONMENT (Part 9 §9.3) ------------------------------------------------

    def _initialize_environment(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        """Start work for one card: the first byte of its identification code (its province).

        The byte must be two BCD digits other than ``00``; the session key and any
        purchase in progress are dropped.
        """
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) != 1:
            raise CardRefusal(SW.WRONG_LENGTH)
        self._require_adf()
        province = cmd.data[0]
        if province == 0 or not _is_bcd(province):
            raise CardRefusal(SW.WRONG_DATA)
        self._session = None
        self._purchase = None
        return b"", SW.OK

    # -- DELIVERY SESSION KEY (Part 9 §9.7) ------------------------------------------------

    def _delivery_session_key(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        env = self._require_adf()
        self._session = None
        data = cmd.data
        count, extra = divmod(len(data) - env.block_size, 8)
        if len(data) < env.block_size or extra or count > 3:
            raise CardRefusal(SW.WRONG_LENGTH)
        levels, type_code = split_usage(cmd.p1)
        cell = allocation_of(cmd.p2)
        record = None if cell is None else self._record(tx, env, cell.authority, type_code, cmd.p2)
        if record is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        if not record.key_type.operations:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if levels != record.levels or count != record.levels:
            raise CardRefusal(SW.WRONG_DATA)
        cipher = record.algorithm.cipher
        factors = [data[8 * i : 8 * i + 8] for i in range(count)]
        child = diversify(record.key, factors[::-1], cipher)
        allowed = record.key_type.operations
        key = session_key(child, data[8 * count :], cipher)
        self._session = _Session(key, cipher, allowed, set(allowed))
        return b"", SW.OK

    # -- CIPHER DATA (Part 9 §9.8) ----------------------------------------------------------

    def _cipher_data(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        p1, data = cmd.p1, cmd.data
        if p1 not in (0x00, 0x01, 0x02, 0x03, 0x05, 0x07) or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        session = self._session
        if session is None:
            raise CardRefusal(SW.INVALID_STATE)
        size = session.cipher.block_size
        shortest = 2 * size if p1 == 0x05 else size
        if not shortest <= len(data) <= 8 * size or len(data) % size:
            raise CardRefusal(SW.WRONG_LENGTH)
        operation = Operation.ENCRYPT if p1 in (0x00, 0x02) else Operation.MAC
        if operation not in session.allowed:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if operation not in session.unused:
            raise CardRefusal(SW.INVALID_STATE)
        key, cipher = session.key, session.cipher
        if operation is Operation.ENCRYPT:
            if p1 == 0x00:
                self._spend(session, operation)
            return encrypt_block(key, data, cipher), SW.OK
        if p1 in (0x05, 0x07):
            start, blocks = data[:size], data[size:]
        elif session.chain is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        else:
            start, blocks = session.chain, data
        final = p1 in (0x05, 0x01)
        chain = cbc_chain(key, start, blocks, cipher)
        if not final:
            session.chain = chain
            return b"", SW.OK
        session.chain = None
        self._spend(session, operation)
        return mac_of_chain(chain, cipher), SW.OK

    def _spend(self, session: _Session, operation: Operation) -> None:
        session.unused.discard(operation)
        if not session.unused:
            self._session = None

    # -- INIT / CREDIT SAM FOR PURCHASE (Part 9 §9.9, §9.10) --------------------------------

    def _init_sam_for_purchase(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            raise CardRefusal(SW.WRONG_P1P2)
        env = self._require_adf()
        self._purchase = None
        data = cmd.data
        count, extra = divmod(len(data) - PURCHASE_DATA_LENGTH, 8)
        if len(data) < PURCHASE_DATA_LENGTH + 8 or extra or count > 3:
            raise CardRefusal(SW.WRONG_LENGTH)
        try:
            body = bodies.parse(bodies.INIT_SAM_FOR_PURCHASE, data)
        except bodies.BodyError:
            raise CardRefusal(SW.WRONG_DATA) from None
        record = self._purchase_key(tx, env, body.key_version)
        if record is None or not self._same_cipher(body.algorithm, record):
            raise CardRefusal(SW.REF_NOT_FOUND)
        if record.levels != count:
            raise CardRefusal(SW.WRONG_DATA)
        terminal = tx.read(env.ef_key(0x0016))
        sequence = tx.read(env.ef_key(0x0019))
        if terminal is None or sequence is None or decode_sequence(sequence) == 0xFFFFFFFF:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        sequence = encode_sequence(decode_sequence(sequence) + 1)
        tx.write(env.ef_key(0x0019), sequence)
        cipher = record.algorithm.cipher
        dpk = diversify(record.key, list(body.factors)[::-1], cipher)
        session_input = bodies.build(
            bodies.PURCHASE_SESSION_INPUT,
            random=body.random,
            seq=body.seq,
            terminal_seq=sequence[2:],
        )
        sespk = session_key(dpk, session_input, cipher)
        mac1 = mac(
            sespk,
            bodies.build(
                bodies.PURCHASE_MAC1_INPUT,
                **{**body, "terminal": terminal, "time": body.date + body.time},
            ),
            cipher,
        )
        amounts = bodies.build(bodies.PURCHASE_AMOUNTS, **body)
        self._purchase = _Purchase(sespk, cipher, amounts)
        answer = bodies.build(
            bodies.INIT_SAM_FOR_PURCHASE_ANSWER,
            terminal_seq=decode_sequence(sequence),
            mac1=mac1,
        )
        return answer, SW.OK

    def _purchase_key(self, tx: Transaction, env: Environment, version: int) -> KeyRecord | None:
        for authority in _PURCHASE_FILES:
            record = self._record(tx, env, authority, KeyType.PURCHASE, version)
            if record is not None:
                return record
        return None

    @staticmethod
    def _same_cipher(algorithm: int, record: KeyRecord) -> bool:
        """The card's algorithm identifier names the key's cipher (key-record or FCI code)."""
        try:
            return KeyAlgorithm(algorithm).cipher is record.algorithm.cipher
        except ValueError:
            return False

    def _credit_sam_for_purchase(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if len(cmd.data) != MAC_LENGTH:
            raise CardRefusal(SW.WRONG_LENGTH)
        purchase, self._purchase = self._purchase, None
        if purchase is None:
            raise CardRefusal(SW.INVALID_STATE)
        expected = mac(purchase.sespk, purchase.amounts, purchase.cipher)
        if not compare_digest(expected, cmd.data):
            return b"", SW.PSAM_MAC2_INVALID
        return b"", SW.OK

    # -- CREATE KEY, CHANGE KEY (Part 9 §9.5, §9.6) -----------------------------------------

    def _write_key(self, cmd: CommandAPDU, tx: Transaction) -> _Answer:
        if cmd.p1 not in (0x00, 0x01):
            raise CardRefusal(SW.WRONG_P1P2)
        authority = Authority.of_key_file(cmd.p2)
        if authority is None:
            raise CardRefusal(SW.FILE_NOT_FOUND)
        env = self._require_adf()
        data = cmd.data
        if len(data) not in _KEY_COMMAND_LC[env.block_size, cmd.p1]:
            raise CardRefusal(SW.WRONG_LENGTH)
        if authority.auth_kid not in self._authenticated:
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        challenge, self._challenge = self._challenge, None
        if challenge is None:
            raise CardRefusal(SW.REF_DATA_INVALID)
        raw_master = tx.read(env.master_key_key)
        if raw_master is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        master = KeyRecord.from_bytes(raw_master)
        cipher = master.algorithm.cipher
        header = bytes((cmd.cla, cmd.ins, cmd.p1, cmd.p2, len(data)))
        expected = mac(master.key, header + data[:-MAC_LENGTH], cipher, iv=challenge)
        if not compare_digest(expected, data[-MAC_LENGTH:]):
            raise CardRefusal(SW.SM_INCORRECT)
        try:
            plain = decrypt_data(master.key, data[:-MAC_LENGTH], cipher)
            if cmd.p1 == 0x00:
                record = self._created(tx, env, authority, KeyRecord.from_bytes(plain))
            else:
                record = self._changed(tx, env, authority, plain)
        except UnsupportedAlgorithmError:
            raise
        except (CryptoError, PsamError):
            raise CardRefusal(SW.WRONG_DATA) from None
        tx.write(env.key_record_key(authority, record.key_type, record.ident), record.to_bytes())
        if record.key_type is KeyType.MAINTENANCE:
            tx.write(env.tries_key(record.ident), bytes((AUTH_KEY_TRIES, AUTH_KEY_TRIES)))
        return b"", SW.OK

    def _created(
        self, tx: Transaction, env: Environment, authority: Authority, record: KeyRecord
    ) -> KeyRecord:
        if record.algorithm not in env.algorithms or record.key_type is KeyType.MASTER:
            raise PsamError("CREATE KEY", "algorithm or key type not allowed here")
        if record.key_type is not KeyType.PURCHASE:
            cell = allocation_of(record.ident)
            if cell is None or cell.authority is not authority:
                raise PsamError("CREATE KEY", "identifier outside the key file's allocation")
            if (cell.holder is KeyHolder.PSAM) != (record.key_type is KeyType.MAINTENANCE):
                raise PsamError("CREATE KEY", "identifiers 00-07 hold the PSAM's own keys")
        if self._record(tx, env, authority, record.key_type, record.ident) is not None:
            raise PsamError("CREATE KEY", "the key exists (use CHANGE KEY)")
        return record

    def _changed(
        self, tx: Transaction, env: Environment, authority: Authority, plain: bytes
    ) -> KeyRecord:
        if len(plain) < 3:
            raise PsamError("CHANGE KEY", "data too short")
        _, type_code = split_usage(plain[0])
        existing = self._record(tx, env, authority, type_code, plain[1])
        if existing is None:
            raise CardRefusal(SW.REF_NOT_FOUND)
        return KeyRecord.from_change_data(plain, existing.algorithm)


_COMMANDS: dict[int, tuple[int, _Handler]] = {
    0xA4: (0x00, Psam._select),
    0xB0: (0x00, Psam._read_binary),
    0xB2: (0x00, Psam._read_record),
    0x84: (0x00, Psam._get_challenge),
    0xC0: (0x00, Psam._get_response),
    0x82: (0x00, Psam._external_authenticate),
    0xEC: (0xBF, Psam._initialize_environment),
    0xDE: (0xBF, Psam._delivery_session_key),
    0xFA: (0x80, Psam._cipher_data),
    0x70: (0x80, Psam._init_sam_for_purchase),
    0x72: (0x80, Psam._credit_sam_for_purchase),
    0xD4: (0x84, Psam._write_key),
}
"""INS → (CLA, handler): Part 9 §9 plus READ BINARY/RECORD and GET RESPONSE of Part 5."""

_CLASSES = frozenset(cla for cla, _ in _COMMANDS.values())
