"""The certificate application of the third-generation card, over a :class:`Storage`.

:class:`CertApplication` answers the commands its :class:`~.profile.CertProfile`
declares with Part 5 status words: ``6700`` for a wrong length, ``6A86`` for wrong
P1/P2, ``6982`` when the PIN or administrator PIN is not verified (and for every READ
or UPDATE BINARY of a private-key file), ``63Cx`` and ``6983`` for a wrong and a
blocked PIN, ``6A88`` when no key pair exists yet, ``6A80`` for a malformed envelope,
key or new PIN, ``6985`` for a command out of sequence.

Its persistent state lives in storage keys under ``pki:`` (:func:`is_secret` names the
secret ones): ``pki:ef:<FID>`` the public files, ``pki:sk:<FID>`` the private keys,
``pki:pin:user`` and ``pki:pin:admin`` a PIN record ``tries left ‖ tries ‖ SM3(PIN)``.
Each command's writes are one storage transaction, and a PIN's counter is spent in a
transaction of its own before the comparison (as the user card does), so a torn write
never leaves half a key pair and a power cut never gives a try back.  A new PIN (the
administrator's change, the user PIN's change and unblock, GM/T 0016 SKF_ChangePIN and
SKF_UnblockPIN) is written in the transaction that gives the checked PIN its tries back:
a power cut leaves the old PIN or the new one, never neither.  Data-returning
case-4 commands answer ``61xx`` for GET RESPONSE (contact T=0, Part 5 §6.6).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from sbkcard.apdu import ApduFormatError, CommandAPDU
from sbkcard.apdu.errors import SecureMessagingError, TlvError
from sbkcard.apdu.secure_messaging import unwrap, verify_mac
from sbkcard.apdu.status import SW, more_data, tries_left, wrong_le
from sbkcard.apdu.tlv import parse_simple_tlv
from sbkcard.applet_model.applet import log_fault
from sbkcard.applet_model.cert_app.profile import CertProfile
from sbkcard.applet_model.storage import Storage
from sbkcard.keys import Algorithm, decrypt_block, encrypt_block, session_key, sm2
from sbkcard.keys.errors import CryptoError
from sbkcard.keys.hashing import sm3

__all__ = [
    "CertApplication",
    "file_key",
    "is_pin",
    "pin_hash",
    "pin_record",
    "secret_key",
    "session_hash",
]

_log = logging.getLogger(__name__)

USER_PIN = "pki:pin:user"
ADMIN_PIN = "pki:pin:admin"
_ZERO_KEY = bytes(64)
Reply = tuple[bytes, int]


def file_key(fid: int) -> str:
    """The storage key of a public file of the application."""
    return f"pki:ef:{fid:04X}"


def secret_key(fid: int) -> str:
    """The storage key of a private-key file (a secret in images)."""
    return f"pki:sk:{fid:04X}"


def pin_hash(pin: bytes) -> bytes:
    """SM3 of a PIN's BCD bytes: what the card stores (never the PIN)."""
    return sm3(pin)


def session_hash(stored: bytes, nonce: bytes) -> bytes:
    """What ``80 C4 01 03`` answers: ``SM3(SM3(PIN) ‖ nonce)``, the nonce the card's own.

    The profile's choice (the driver only says "a hash"): bound to a nonce that never
    leaves the card, the answer a trace shows is good for this session only and gives
    no way to test PINs against it.
    """
    return sm3(stored + nonce)


def is_pin(pin: bytes) -> bool:
    """Whether ``pin`` is a PIN of 4 to 16 digits in BCD, an odd count padded with ``F``."""
    text = pin.hex().upper()
    digits = text[:-1] if text.endswith("F") else text
    return 4 <= len(digits) <= 16 and digits.isdigit()


def pin_record(pin: bytes, tries: int) -> bytes:
    """A stored PIN: tries left ‖ tries ‖ SM3(PIN); the PIN itself is not kept."""
    return bytes((tries, tries)) + pin_hash(pin)


@dataclass
class _Volatile:
    """What the application forgets at power-up or when another application is selected."""

    selected: bool = False
    ef: int | None = None
    challenge: bytes | None = None
    pin_nonce: bytes | None = None
    user_ok: bool = False
    admin_ok: bool = False
    export: int | None = None
    envelope_key: bytes | None = None
    session_key: bytes | None = None
    staged_public: bytes | None = None
    response: bytes = b""


class CertApplication:
    """The certificate application (DDF, ADF, key and certificate files) of one profile."""

    def __init__(
        self,
        storage: Storage,
        profile: CertProfile,
        *,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.storage = storage
        self.profile = profile
        self._random = random
        self._v = _Volatile()
        p = profile
        self._commands: dict[bytes, Callable[[CommandAPDU], Reply]] = {
            p.pin_hash: self._pin_hash,
            p.verify_user: self._verify_user,
            p.verify_admin: self._verify_admin,
            p.change_admin: self._change_admin,
            p.change_user: self._change_user,
            p.unblock_user: self._unblock_user,
            p.generate: self._generate,
            p.export_select: self._export_select,
            p.export_read: self._export_read,
            p.envelope: self._envelope,
            p.session_key: self._session_key,
            p.import_public: self._import_public,
            p.import_private: self._import_private,
            p.sign: self._sign,
            p.decipher: self._decipher,
        }

    @property
    def present(self) -> bool:
        """Whether this card carries the application (it was personalised)."""
        return self.storage.read(USER_PIN) is not None

    def owns(self, name: bytes) -> bool:
        """Whether ``name`` is the application's DDF or ADF name."""
        return self.present and name in (self.profile.ddf_name, self.profile.adf_name)

    def power_on(self) -> None:
        """Power-up: the volatile state is cleared."""
        self._v = _Volatile()

    def leave(self) -> None:
        """Another application was selected: PIN states and sequences are forgotten."""
        self._v = _Volatile()

    def process(self, apdu: bytes) -> bytes:
        """One command APDU → response data ‖ SW1 SW2 (never raises but ``PowerLoss``)."""
        try:
            data, sw = self._dispatch(bytes(apdu))
        except Exception as exc:
            log_fault(_log, apdu, exc)
            self._v.response = b""
            return SW.UNKNOWN.to_bytes(2, "big")
        return data + sw.to_bytes(2, "big")

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, apdu: bytes) -> Reply:
        try:
            cmd = CommandAPDU.from_bytes(apdu)
        except ApduFormatError:
            self._v.response = b""
            return b"", SW.WRONG_LENGTH
        if cmd.cla == 0x00 and cmd.ins == 0xC0:
            return self._get_response(cmd)
        self._v.response = b""
        handler = self._commands.get(bytes(cmd.header))
        if handler is None:
            iso = {0xA4: self._select, 0xB0: self._read_binary, 0xD6: self._update_binary}
            if cmd.cla == 0x00 and cmd.ins == 0x84:
                handler = self._get_challenge
            elif cmd.cla == 0x00 and cmd.ins in iso:
                handler = iso[cmd.ins]
            elif any(h[:2] == bytes((cmd.cla, cmd.ins)) for h in self._commands):
                return b"", SW.WRONG_P1P2
            elif cmd.cla not in (0x00, 0x80, 0x84):
                return b"", SW.CLA_NOT_SUPPORTED
            else:
                return b"", SW.INS_NOT_SUPPORTED
        data, sw = handler(cmd)
        if sw == SW.OK and data and cmd.data:
            self._v.response = data
            return b"", more_data(len(data))
        return data, sw

    def _get_response(self, cmd: CommandAPDU) -> Reply:
        pending, self._v.response = self._v.response, b""
        if cmd.p1 or cmd.p2 or cmd.data:
            return b"", SW.WRONG_P1P2 if cmd.p1 or cmd.p2 else SW.WRONG_LENGTH
        if not pending:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        le = 256 if cmd.le is None else cmd.le
        if le < len(pending):
            self._v.response = pending[le:]
            return pending[:le], more_data(len(self._v.response))
        if le > len(pending) and le != 256:
            self._v.response = pending
            return b"", wrong_le(len(pending))
        return pending, SW.OK

    # -- files -----------------------------------------------------------------------------

    def _fcp(self, name: bytes) -> bytes:
        body = b"\x84" + bytes((len(name),)) + name
        return b"\x6f" + bytes((len(body),)) + body

    def _select(self, cmd: CommandAPDU) -> Reply:
        p = self.profile
        if cmd.p1 == 0x04 and cmd.p2 == 0x00:
            if cmd.data not in (p.ddf_name, p.adf_name):
                return b"", SW.FILE_NOT_FOUND
            if cmd.data == p.ddf_name:
                self.leave()
            self._v.selected = True
            self._v.ef = None
            return self._fcp(cmd.data), SW.OK
        if cmd.p1 in (0x00, 0x02) and cmd.p2 == 0x00:
            if len(cmd.data) != 2:
                return b"", SW.WRONG_LENGTH
            fid = int.from_bytes(cmd.data, "big")
            if not self._v.selected or not self._exists(fid):
                return b"", SW.FILE_NOT_FOUND
            self._v.ef = fid
            return b"", SW.OK
        return b"", SW.WRONG_P1P2

    def _exists(self, fid: int) -> bool:
        p = self.profile
        return fid in p.private_files or self.storage.read(file_key(fid)) is not None

    def _target(self, cmd: CommandAPDU) -> tuple[int, int] | int:
        """(file, offset) of READ/UPDATE BINARY: SFI in P1 (``1xxxxxxx``) or the current EF."""
        if cmd.p1 & 0x80:
            fid, offset = cmd.p1 & 0x1F, cmd.p2
            if not self._v.selected or not self._exists(fid):
                return SW.FILE_NOT_FOUND
            self._v.ef = fid
        else:
            if self._v.ef is None:
                return SW.NO_CURRENT_EF
            fid, offset = self._v.ef, (cmd.p1 << 8) | cmd.p2
        if fid in self.profile.private_files:
            return SW.SECURITY_NOT_SATISFIED
        return fid, offset

    def _read_binary(self, cmd: CommandAPDU) -> Reply:
        target = self._target(cmd)
        if isinstance(target, int):
            return b"", target
        fid, offset = target
        body = self.storage.read(file_key(fid)) or b""
        if cmd.data or cmd.le is None:
            return b"", SW.WRONG_LENGTH
        if offset >= len(body):
            return b"", SW.WRONG_OFFSET
        rest = body[offset:]
        if cmd.le == 256:
            return rest[:256], SW.OK
        if cmd.le > len(rest):
            return b"", wrong_le(len(rest))
        return rest[: cmd.le], SW.OK

    def _update_binary(self, cmd: CommandAPDU) -> Reply:
        target = self._target(cmd)
        if isinstance(target, int):
            return b"", target
        fid, offset = target
        if fid not in self.profile.certificate_files:
            return b"", SW.SECURITY_NOT_SATISFIED
        if not cmd.data or cmd.le is not None or len(cmd.data) > self.profile.chunk:
            return b"", SW.WRONG_LENGTH
        if not self._v.admin_ok:
            return b"", SW.SECURITY_NOT_SATISFIED
        body = self.storage.read(file_key(fid)) or b""
        if offset + len(cmd.data) > len(body):
            return b"", SW.WRONG_OFFSET
        new = body[:offset] + cmd.data + body[offset + len(cmd.data) :]
        with self.storage.transaction() as tx:
            tx.write(file_key(fid), new)
        return b"", SW.OK

    # -- PINs ------------------------------------------------------------------------------

    def _pin_hash(self, cmd: CommandAPDU) -> Reply:
        try:
            tlvs = parse_simple_tlv(cmd.data)
        except TlvError:
            return b"", SW.WRONG_DATA
        if len(tlvs) != 1 or tlvs[0][0] != 0xC1 or not 2 <= len(tlvs[0][1]) <= 8:
            return b"", SW.WRONG_DATA
        if cmd.le is None:
            return b"", SW.WRONG_LENGTH
        self._v.pin_nonce = self._random(16)
        return session_hash(pin_hash(tlvs[0][1]), self._v.pin_nonce), SW.OK

    def _get_challenge(self, cmd: CommandAPDU) -> Reply:
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        if cmd.data or cmd.le not in (4, 8, 16):
            return b"", SW.WRONG_LENGTH
        self._v.challenge = self._random(cmd.le)
        return self._v.challenge, SW.OK

    def _check_pin(
        self,
        name: str,
        matches: Callable[[bytes], bool],
        then: Callable[[bytes], dict[str, bytes] | int] | None = None,
    ) -> int:
        """Spend a try, compare, and give the tries back on success (Part 5 §6.14).

        ``then(stored)``, run after a match, gives the writes that go in the same
        transaction as the tries given back (a new PIN record: after a power cut the old
        PIN or the new one is there, never neither), or a status word refusing them.
        """
        record = self.storage.read(name)
        if record is None or len(record) != 34:
            return SW.REF_NOT_FOUND
        left, tries, stored = record[0], record[1], record[2:]
        if left == 0:
            return SW.AUTH_BLOCKED
        with self.storage.transaction() as tx:
            tx.write(name, bytes((left - 1, tries)) + stored)
        if not matches(stored):
            return tries_left(min(left - 1, 0x0F))
        extra = {} if then is None else then(stored)
        sw: int = SW.OK
        if isinstance(extra, int):
            sw, extra = extra, {}
        with self.storage.transaction() as tx:
            for key, value in {name: bytes((tries, tries)) + stored, **extra}.items():
                tx.write(key, value)
        return sw

    def _pin_session(self, cmd: CommandAPDU) -> Callable[[bytes], bytes] | int:
        """Stored PIN hash → the session key ``SM4(SM3(PIN)[0:16], challenge)``, or a SW."""
        challenge, self._v.challenge = self._v.challenge, None
        if cmd.le is not None or len(cmd.data) < 6:
            return SW.WRONG_LENGTH
        if challenge is None:
            return SW.CONDITIONS_NOT_SATISFIED
        return lambda stored: session_key(stored[:16], challenge, Algorithm.SM4)

    def _verify_user(self, cmd: CommandAPDU) -> Reply:
        """``00 20 01 81``: SM4(hash[0:16], challenge) from ``80 C4`` and GET CHALLENGE."""
        challenge, self._v.challenge = self._v.challenge, None
        nonce, self._v.pin_nonce = self._v.pin_nonce, None
        if len(cmd.data) != 16 or cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        if challenge is None or len(challenge) != 16 or nonce is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED

        def matches(stored: bytes) -> bool:
            key = session_hash(stored, nonce)[:16]
            expected = encrypt_block(key, challenge, Algorithm.SM4)
            return hmac.compare_digest(expected, cmd.data)

        self._v.user_ok = False
        sw = self._check_pin(USER_PIN, matches)
        self._v.user_ok = sw == SW.OK
        return b"", sw

    def _verify_admin(self, cmd: CommandAPDU) -> Reply:
        """``00 20 01 00``: the administrator PIN's BCD bytes, in clear as the driver sends."""
        if not 2 <= len(cmd.data) <= 8 or cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        self._v.admin_ok = False
        sw = self._check_pin(ADMIN_PIN, lambda s: hmac.compare_digest(s, pin_hash(cmd.data)))
        self._v.admin_ok = sw == SW.OK
        return b"", sw

    def _change_admin(self, cmd: CommandAPDU) -> Reply:
        """``84 5E 01 00``: new PIN (BCD) ‖ MAC under the session key of SM3(old PIN)."""
        key_of = self._pin_session(cmd)
        if isinstance(key_of, int):
            return b"", key_of
        new = cmd.data[:-4]
        if not 2 <= len(new) <= 8:
            return b"", SW.WRONG_LENGTH
        if not is_pin(new):
            return b"", SW.WRONG_DATA
        record = pin_record(new, self.profile.admin_tries)
        self._v.admin_ok = False
        sw = self._check_pin(
            ADMIN_PIN,
            lambda stored: verify_mac(cmd, key_of(stored), Algorithm.SM4),
            lambda _: {ADMIN_PIN: record},
        )
        return b"", sw

    def _new_user_pin(self, cmd: CommandAPDU, authority: str) -> Reply:
        """``SM4(K, LD ‖ new user PIN ‖ 80…) ‖ MAC`` with ``K`` the session key of the
        ``authority`` PIN: the new user PIN with all its tries, in the transaction that
        gives ``authority`` its tries back."""
        key_of = self._pin_session(cmd)
        if isinstance(key_of, int):
            return b"", key_of
        if len(cmd.data) != 20:
            return b"", SW.WRONG_LENGTH

        def new_record(stored: bytes) -> dict[str, bytes] | int:
            try:
                new = unwrap(cmd, key_of(stored), Algorithm.SM4, encrypted=True).data
            except SecureMessagingError:
                return SW.WRONG_DATA
            if not is_pin(new):
                return SW.WRONG_DATA
            return {USER_PIN: pin_record(new, self.profile.user_tries)}

        self._v.user_ok = False
        sw = self._check_pin(
            authority, lambda stored: verify_mac(cmd, key_of(stored), Algorithm.SM4), new_record
        )
        return b"", sw

    def _change_user(self, cmd: CommandAPDU) -> Reply:
        """``84 5E 01 81``: a new user PIN under the old one's key (GM/T 0016 SKF_ChangePIN)."""
        return self._new_user_pin(cmd, USER_PIN)

    def _unblock_user(self, cmd: CommandAPDU) -> Reply:
        """``84 24 01 81``: a new user PIN under the administrator PIN's key, the user tries
        reset (GM/T 0016 SKF_UnblockPIN); a wrong MAC spends an administrator try."""
        return self._new_user_pin(cmd, ADMIN_PIN)

    # -- keys ------------------------------------------------------------------------------

    def _public(self, fid: int) -> bytes | None:
        """A public key file's key, ``None`` when it is all zero (no key pair yet)."""
        value = self.storage.read(file_key(fid))
        return None if value is None or value == _ZERO_KEY else value

    def _generate(self, cmd: CommandAPDU) -> Reply:
        """``80 40 00 00 08 C0 02 <public> C2 02 <private>``: a key pair made in the card."""
        if len(cmd.data) != 8 or cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        try:
            refs = dict(parse_simple_tlv(cmd.data))
        except TlvError:
            return b"", SW.WRONG_DATA
        public, private = refs.get(0xC0, b""), refs.get(0xC2, b"")
        if len(public) != 2 or len(private) != 2:
            return b"", SW.WRONG_DATA
        pub_fid, priv_fid = int.from_bytes(public, "big"), int.from_bytes(private, "big")
        if self.profile.pairs.get(pub_fid) != priv_fid:
            return b"", SW.FILE_NOT_FOUND
        if not self._v.admin_ok:
            return b"", SW.SECURITY_NOT_SATISFIED
        d = sm2.generate_private(self._random)
        with self.storage.transaction() as tx:
            tx.write(secret_key(priv_fid), d)
            tx.write(file_key(pub_fid), sm2.public_key(d))
        return b"", SW.OK

    def _export_select(self, cmd: CommandAPDU) -> Reply:
        if len(cmd.data) != 2 or cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        fid = int.from_bytes(cmd.data, "big")
        if fid not in self.profile.public_files:
            return b"", SW.FILE_NOT_FOUND
        self._v.export = fid
        return b"", SW.OK

    def _export_read(self, cmd: CommandAPDU) -> Reply:
        export, self._v.export = self._v.export, None
        if cmd.data or cmd.le is None:
            return b"", SW.WRONG_LENGTH
        if export is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        key = self._public(export)
        if key is None:
            return b"", SW.REF_NOT_FOUND
        if cmd.le not in (64, 256):
            return b"", wrong_le(64)
        return key, SW.OK

    def _sign(self, cmd: CommandAPDU) -> Reply:
        """PERFORM SECURITY OPERATION, COMPUTE DIGITAL SIGNATURE over ``e`` (the profile's)."""
        if len(cmd.data) != 32 or cmd.le is None:
            return b"", SW.WRONG_LENGTH
        if not self._v.user_ok:
            return b"", SW.SECURITY_NOT_SATISFIED
        d = self.storage.read(secret_key(self.profile.sign_private))
        if d is None or self._public(self.profile.sign_public) is None:
            return b"", SW.REF_NOT_FOUND
        return sm2.sign_digest(d, cmd.data), SW.OK

    def _sm2_decrypt(self, data: bytes, fid: int, granted: bool) -> bytes | int:
        """``C1 ‖ C3 ‖ C2`` decrypted with the private key in ``fid``, or the status word."""
        if len(data) < 97:
            return SW.WRONG_LENGTH
        if not granted:
            return SW.SECURITY_NOT_SATISFIED
        d = self.storage.read(secret_key(fid))
        if d is None:
            return SW.REF_NOT_FOUND
        try:
            return sm2.decrypt(d, sm2.Ciphertext.from_bytes(data))
        except CryptoError:
            return SW.WRONG_DATA

    def _decipher(self, cmd: CommandAPDU) -> Reply:
        """PERFORM SECURITY OPERATION, DECIPHER: SM2 ``C1 ‖ C3 ‖ C2`` with the encryption key."""
        if cmd.le is None:
            return b"", SW.WRONG_LENGTH
        clear = self._sm2_decrypt(cmd.data, self.profile.enc_private, self._v.user_ok)
        return (b"", clear) if isinstance(clear, int) else (clear, SW.OK)

    # -- the digital envelope (GM/T 0016 ENVELOPEDKEYBLOB) ---------------------------------------

    def _envelope(self, cmd: CommandAPDU) -> Reply:
        """``80 4E 00 01``: C1x ‖ C1y ‖ C3 ‖ C2 under the signing private key → session key."""
        self._v.envelope_key = self._v.session_key = self._v.staged_public = None
        if cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        key = self._sm2_decrypt(cmd.data, self.profile.sign_private, self._v.admin_ok)
        if isinstance(key, int):
            return b"", key
        if len(key) != 16:
            return b"", SW.WRONG_DATA
        self._v.envelope_key = key
        return b"", SW.OK

    def _session_key(self, cmd: CommandAPDU) -> Reply:
        """``80 4A 02 10``: the decrypted SM4 key becomes the session key of the imports."""
        if cmd.data or cmd.le is not None:
            return b"", SW.WRONG_LENGTH
        if self._v.envelope_key is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        self._v.session_key, self._v.envelope_key = self._v.envelope_key, None
        return b"", SW.OK

    def _import_public(self, cmd: CommandAPDU) -> Reply:
        """``80 C2 40 00 … CA 40``: the encryption public key, staged for ``80 C2 C0 01``."""
        if self._v.session_key is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        value = _tagged(cmd.data, 0xCA, 64)
        if value is None:
            return b"", SW.WRONG_DATA
        try:
            sm2.z_value(value)
        except CryptoError:
            return b"", SW.WRONG_DATA
        self._v.staged_public = value
        return b"", SW.OK

    def _import_private(self, cmd: CommandAPDU) -> Reply:
        """``80 C2 C0 01 … CB 20``: the private key (SM4-ECB); both files in one transaction."""
        session, public = self._v.session_key, self._v.staged_public
        if session is None or public is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        value = _tagged(cmd.data, 0xCB, 32)
        if value is None:
            return b"", SW.WRONG_DATA
        d = decrypt_block(session, value, Algorithm.SM4)
        try:
            matches = sm2.public_key(d) == public
        except CryptoError:
            matches = False
        if not matches:
            return b"", SW.WRONG_DATA
        p = self.profile
        with self.storage.transaction() as tx:
            tx.write(secret_key(p.enc_private), d)
            tx.write(file_key(p.enc_public), public)
        self._v.session_key = self._v.staged_public = None
        return b"", SW.OK


def _tagged(data: bytes, tag: int, length: int) -> bytes | None:
    """The value of the single simple-TLV ``tag`` of ``length`` bytes, else ``None``."""
    try:
        tlvs = parse_simple_tlv(data)
    except TlvError:
        return None
    if len(tlvs) != 1 or tlvs[0][0] != tag or len(tlvs[0][1]) != length:
        return None
    return tlvs[0][1]
