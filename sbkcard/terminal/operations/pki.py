"""The certificate application seen from the terminal (LD/T 6001.5-2023 §7 PKI functions).

Every function runs on a :class:`~sbkcard.terminal.transports.transport.ReaderSession`
of a powered card and a :class:`~sbkcard.applet_model.cert_app.profile.CertProfile`
(the vendor's AIDs, files and commands): selecting the application, the user PIN
(hash, challenge, SM4 cryptogram; its change and unblock, GM/T 0016 SKF_ChangePIN and
SKF_UnblockPIN, under secure messaging), reading keys and certificates, signing (the host
computes ``e = SM3(Z ‖ M)`` from the card's public key, the card signs ``e``), and the
issuance steps (administrator PIN, key generation, certificates, envelope import).

The PIN is an argument here and never reaches a trace in clear: the card only sees its
hash's cryptogram, and the ``C1`` command that carries the PIN is masked by the trace.
"""

from __future__ import annotations

import base64
import hmac
import secrets

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sbkcard.apdu import CommandAPDU
from sbkcard.apdu.secure_messaging import wrap, wrap_mac
from sbkcard.apdu.status import SW, parse_tries_left
from sbkcard.applet_model.cert_app.applet import pin_hash
from sbkcard.applet_model.cert_app.content import pin_bcd
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile
from sbkcard.keys import Algorithm, encrypt_block, session_key, sm2
from sbkcard.keys.certificates import CertificateError, EnvelopedKeyBlob, certificate_public_key
from sbkcard.keys.errors import CryptoError
from sbkcard.keys.hashing import sm3
from sbkcard.terminal.errors import (
    CardMismatchError,
    CardStatusError,
    InvalidInputError,
    PinBlockedError,
    TerminalError,
    WrongPinError,
)
from sbkcard.terminal.transports.transport import ReaderSession

__all__ = [
    "MAX_SIGN_INPUT",
    "PROFILE",
    "InputTooLongError",
    "NoKeyPairError",
    "SignatureInvalidError",
    "card_certificate",
    "change_admin_pin",
    "change_user_pin",
    "generate_signing_key",
    "import_envelope",
    "open_envelope",
    "parse_certificate",
    "parse_signature",
    "read_certificate",
    "read_public_key",
    "seal_envelope",
    "select_application",
    "sign",
    "text_bytes",
    "unblock_user_pin",
    "verify_admin_pin",
    "verify_signature",
    "verify_user_pin",
    "write_certificate",
]

MAX_SIGN_INPUT = 1 << 20
"""The largest input PKI_SignData accepts (1 MiB; the standard's table gives no limit)."""


class InputTooLongError(InvalidInputError):
    """The data to sign or encrypt is larger than the function accepts."""


class NoKeyPairError(CardStatusError):
    """The card has no key pair yet (all-zero public key file, ``6A88`` to signing)."""


def _header(raw: bytes) -> tuple[int, int, int, int]:
    return raw[0], raw[1], raw[2], raw[3]


def _command(header: bytes, data: bytes = b"", le: int | None = None) -> CommandAPDU:
    return CommandAPDU(*_header(header), data=data, le=le)


def select_application(card: ReaderSession, profile: CertProfile) -> None:
    """SELECT the DDF ``PKI.社会保障``, then the ADF, by name."""
    for name in (profile.ddf_name, profile.adf_name):
        card.call(CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=name, le=256), "SELECT PKI")


# the user PIN's way out (unblock_user_pin), not the SSSE PIN's issuer unblock
_USER_PIN_BLOCKED = "the administrator PIN unblocks it (GM/T 0016 SKF_UnblockPIN)"


def _pin_status(
    card: ReaderSession, command: CommandAPDU, what: str, *, user: bool = False
) -> None:
    """Raise for the card's refusal of a PIN command (``user``: the user PIN's)."""
    response = card.send(command)
    if response.sw == SW.OK:
        return
    left = parse_tries_left(response.sw)
    if response.sw == SW.AUTH_BLOCKED or left == 0:
        if user:
            raise PinBlockedError(response.sw, what, remedy=_USER_PIN_BLOCKED)
        raise PinBlockedError(response.sw, what)
    if left is not None:
        raise WrongPinError(response.sw, what)
    raise CardStatusError(response.sw, what)


def verify_user_pin(card: ReaderSession, profile: CertProfile, pin: str) -> None:
    """``80 C4`` (the PIN's hash), GET CHALLENGE, ``00 20 01 81`` SM4(hash, challenge)."""
    bcd = _bcd(pin, "user PIN")
    tlv = b"\xc1" + bytes((len(bcd),)) + bcd
    digest = card.call(_command(profile.pin_hash, tlv, 256), "PIN HASH")
    challenge = card.call(
        CommandAPDU(0x00, 0x84, 0x00, 0x00, le=profile.challenge_length), "GET CHALLENGE"
    )
    cryptogram = encrypt_block(digest[:16], challenge, Algorithm.SM4)
    _pin_status(card, _command(profile.verify_user, cryptogram), "VERIFY user PIN", user=True)


def verify_admin_pin(card: ReaderSession, profile: CertProfile, pin: str) -> None:
    """``00 20 01 00`` with the administrator PIN (BCD)."""
    bcd = _bcd(pin, "administrator PIN")
    _pin_status(card, _command(profile.verify_admin, bcd), "VERIFY administrator PIN")


def _bcd(pin: str, what: str) -> bytes:
    try:
        return pin_bcd(pin)
    except ValueError as exc:
        raise InvalidInputError(f"{what}: {exc}") from None


def _pin_key(card: ReaderSession, pin: bytes) -> bytes:
    """GET CHALLENGE (8 bytes); the session key ``SM4(SM3(PIN)[0:16], challenge ‖ 00…)``."""
    challenge = card.call(CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "GET CHALLENGE")
    return session_key(pin_hash(pin)[:16], challenge, Algorithm.SM4)


def change_admin_pin(card: ReaderSession, profile: CertProfile, old: str, new: str) -> None:
    """``84 5E 01 00``: the new administrator PIN, MACed with the old one's session key."""
    old_bcd = _bcd(old, "administrator PIN")
    new_bcd = _bcd(new, "administrator PIN")
    command = _command(profile.change_admin, new_bcd)
    wrapped = wrap_mac(command, _pin_key(card, old_bcd), Algorithm.SM4)
    _pin_status(card, wrapped, "CHANGE administrator PIN")


def _new_user_pin(
    card: ReaderSession, header: bytes, authority: bytes, new: str, what: str, *, user: bool
) -> None:
    command = _command(header, _bcd(new, "new user PIN"))
    wrapped = wrap(command, _pin_key(card, authority), Algorithm.SM4, encrypt=True)
    _pin_status(card, wrapped, what, user=user)


def change_user_pin(card: ReaderSession, profile: CertProfile, old: str, new: str) -> None:
    """``84 5E 01 81`` (GM/T 0016 SKF_ChangePIN): the new user PIN enciphered and MACed
    under the old one's session key.  A wrong old PIN spends a user try
    (:class:`WrongPinError`); a blocked one needs :func:`unblock_user_pin`."""
    old_bcd = _bcd(old, "user PIN")
    _new_user_pin(card, profile.change_user, old_bcd, new, "CHANGE user PIN", user=True)


def unblock_user_pin(card: ReaderSession, profile: CertProfile, admin: str, new: str) -> None:
    """``84 24 01 81`` (GM/T 0016 SKF_UnblockPIN): a new user PIN with all its tries,
    enciphered and MACed under the administrator PIN's session key.  A wrong
    administrator PIN spends an administrator try (:class:`WrongPinError`)."""
    admin_bcd = _bcd(admin, "administrator PIN")
    _new_user_pin(card, profile.unblock_user, admin_bcd, new, "UNBLOCK user PIN", user=False)


def read_public_key(card: ReaderSession, profile: CertProfile, fid: int | None = None) -> bytes:
    """``80 C9 82 00`` + ``80 C9 82 80``: a public key ``X ‖ Y`` (signing key by default)."""
    fid = profile.sign_public if fid is None else fid
    card.call(_command(profile.export_select, fid.to_bytes(2, "big")), "EXPORT PUBLIC KEY")
    response = card.send(_command(profile.export_read, le=256))
    if response.sw == SW.REF_NOT_FOUND:
        raise NoKeyPairError(response.sw, "EXPORT PUBLIC KEY", message="no key pair on the card")
    if response.sw != SW.OK:
        raise CardStatusError(response.sw, "EXPORT PUBLIC KEY")
    return response.data


def generate_signing_key(card: ReaderSession, profile: CertProfile) -> bytes:
    """``80 40 00 00 C0 <0012> C2 <0013>``: a signing key pair made in the card; its public key."""
    refs = b"\xc0\x02" + profile.sign_public.to_bytes(2, "big")
    refs += b"\xc2\x02" + profile.sign_private.to_bytes(2, "big")
    card.call(_command(profile.generate, refs), "GENERATE SM2 KEY PAIR")
    return read_public_key(card, profile)


def _select_ef(card: ReaderSession, fid: int) -> None:
    card.call(CommandAPDU(0x00, 0xA4, 0x02, 0x00, data=fid.to_bytes(2, "big")), "SELECT EF")


def read_certificate(card: ReaderSession, profile: CertProfile, fid: int | None = None) -> bytes:
    """The DER certificate in ``fid`` (the signing certificate by default); ``b""`` if none."""
    fid = profile.sign_certificate if fid is None else fid
    _select_ef(card, fid)
    head = card.call(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4), "READ BINARY")
    if head[0] != 0x30:
        return b""
    if head[1] == 0x82:
        length = 4 + int.from_bytes(head[2:4], "big")
    elif head[1] == 0x81:
        length = 3 + head[2]
    else:
        length = 2 + head[1]
    if length > profile.certificate_size:
        raise CardStatusError(SW.WRONG_DATA, "READ BINARY", message="certificate longer than file")
    out = b""
    while len(out) < length:
        size = min(256, length - len(out))
        p1p2 = len(out).to_bytes(2, "big")
        command = CommandAPDU(0x00, 0xB0, p1p2[0], p1p2[1], le=size)
        out += card.call(command, "READ BINARY")
    return out


def write_certificate(
    card: ReaderSession, profile: CertProfile, fid: int, der: bytes, public: bytes
) -> None:
    """UPDATE BINARY of ``der`` into ``fid`` in chunks, after checking it certifies ``public``.

    :class:`CardMismatchError` when the certificate's key is not the card's, before any
    byte is written.
    """
    try:
        certified = certificate_public_key(der)
    except CertificateError as exc:
        raise InvalidInputError(f"certificate for {fid:04X}: {exc}") from None
    if certified != public:
        raise CardMismatchError(f"the certificate for {fid:04X} is not for the card's key")
    if len(der) > profile.certificate_size:
        raise InvalidInputError(f"certificate of {len(der)} bytes exceeds file {fid:04X}")
    _select_ef(card, fid)
    for offset in range(0, len(der), profile.chunk):
        p1p2 = offset.to_bytes(2, "big")
        chunk = der[offset : offset + profile.chunk]
        card.call(CommandAPDU(0x00, 0xD6, p1p2[0], p1p2[1], data=chunk), "UPDATE BINARY")


def import_envelope(card: ReaderSession, profile: CertProfile, blob: EnvelopedKeyBlob) -> None:
    """The encryption key pair from an envelope: ``80 4E``, ``80 4A``, ``80 C2`` ×2."""
    c = blob.cipher
    card.call(_command(profile.envelope, c.c1 + c.c3 + c.c2), "IMPORT ENVELOPE")
    card.call(_command(profile.session_key), "SESSION KEY")
    card.call(_command(profile.import_public, b"\xca\x40" + blob.public), "IMPORT PUBLIC KEY")
    private = blob.encrypted_private[-32:]
    card.call(_command(profile.import_private, b"\xcb\x20" + private), "IMPORT PRIVATE KEY")


def sign(card: ReaderSession, profile: CertProfile, data: bytes) -> tuple[bytes, bytes]:
    """``r ‖ s`` over ``data`` with the card's signing key (user PIN verified before).

    Returns the signature and the card's signing public key.
    """
    public = read_public_key(card, profile)
    e = sm2.digest(public, data)
    response = card.send(_command(profile.sign, e, 256))
    if response.sw == SW.REF_NOT_FOUND:
        raise NoKeyPairError(response.sw, "SM2 SIGN", message="no signing key on the card")
    if response.sw != SW.OK:
        raise CardStatusError(response.sw, "SM2 SIGN")
    return response.data, public


PROFILE = KIOSK_PROFILE
"""The certificate application's profile the national functions use."""


class SignatureInvalidError(TerminalError):
    """A signature that does not verify under the certificate's key."""


def text_bytes(text: str, what: str) -> bytes:
    """A national function's text argument as the bytes signed: GB 18030 (GBK's superset)."""
    try:
        data = text.encode("gb18030")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what}: not encodable in GB 18030 ({exc.reason})") from None
    if len(data) > MAX_SIGN_INPUT:
        raise InputTooLongError(f"{what}: {len(data)} bytes, at most {MAX_SIGN_INPUT}")
    return data


def _decode(text: str, what: str) -> bytes:
    """Hex or base64 (PEM armour stripped) → bytes."""
    body = "".join(
        line for line in text.strip().splitlines() if not line.startswith("-----")
    ).strip()
    if not body:
        raise InvalidInputError(f"{what}: empty")
    try:
        return bytes.fromhex(body)
    except ValueError:
        pass
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise InvalidInputError(f"{what}: neither hex nor base64") from None


def parse_certificate(text: str) -> bytes:
    """pCert (base64, PEM or hex) → DER, checked to be an SM2 certificate."""
    der = _decode(text, "pCert")
    try:
        certificate_public_key(der)
    except CertificateError as exc:
        raise InvalidInputError(f"pCert: {exc}") from None
    return der


def parse_signature(text: str) -> bytes:
    """pSignature (``r ‖ s`` or DER, in hex or base64) → ``r ‖ s``."""
    raw = _decode(text, "pSignature")
    if len(raw) == 64:
        return raw
    try:
        return sm2.signature_raw(raw)
    except CryptoError:
        raise InvalidInputError("pSignature: neither 64 bytes r ‖ s nor DER") from None


def card_certificate(card: ReaderSession, profile: CertProfile) -> bytes:
    """The card's signing certificate, checked against its signing public key."""
    public = read_public_key(card, profile)
    der = read_certificate(card, profile)
    if not der:
        raise NoKeyPairError(SW.REF_NOT_FOUND, "READ BINARY", message="no signing certificate")
    try:
        certified = certificate_public_key(der)
    except CertificateError as exc:
        raise CardMismatchError(f"the card's signing certificate is unreadable: {exc}") from None
    if certified != public:
        raise CardMismatchError("the card's signing certificate is not for its signing key")
    return der


def verify_signature(certificate: bytes, data: bytes, signature: bytes) -> None:
    """Check ``r ‖ s`` over ``data`` under the certificate's key (Z with the default ID)."""
    if not sm2.verify(certificate_public_key(certificate), data, signature):
        raise SignatureInvalidError("the signature does not verify under the certificate's key")


def _sm4_cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.SM4(key), modes.CBC(iv))
    if encrypt:
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        enc = cipher.encryptor()
        return enc.update(padded) + enc.finalize()
    dec = cipher.decryptor()
    padded = dec.update(data) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        clear = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        clear = b""
    if len(clear) < 32 or not hmac.compare_digest(sm3(clear[:-32]), clear[-32:]):
        raise InvalidInputError("envelope: the data does not decrypt (wrong key or altered)")
    return clear[:-32]


def seal_envelope(certificate: bytes, data: bytes) -> tuple[bytes, bytes]:
    """A digital envelope for the certificate's holder: (SM2 ``C1 ‖ C3 ‖ C2`` of a fresh
    SM4 key, ``IV ‖ SM4-CBC(data ‖ SM3(data), PKCS#7)``): the layout is this project's."""
    key, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    wrapped = sm2.encrypt(certificate_public_key(certificate), key)
    return bytes(wrapped)[1:], iv + _sm4_cbc(key, iv, data + sm3(data), encrypt=True)


def open_envelope(
    card: ReaderSession, profile: CertProfile, wrapped: bytes, sealed: bytes
) -> bytes:
    """The card deciphers the envelope's key (user PIN verified before); the host the data."""
    if len(sealed) < 32 or len(sealed) % 16:
        raise InvalidInputError("envelope: the data part is not IV ‖ whole SM4 blocks")
    if not 97 <= len(wrapped) <= 255:
        raise InvalidInputError(f"envelope: a wrapped key of {len(wrapped)} bytes (97 … 255)")
    response = card.send(_command(profile.decipher, wrapped, 256))
    if response.sw == SW.REF_NOT_FOUND:
        raise NoKeyPairError(response.sw, "SM2 DECIPHER", message="no encryption key on the card")
    if response.sw != SW.OK:
        raise CardStatusError(response.sw, "SM2 DECIPHER")
    if len(response.data) != 16:
        raise InvalidInputError("envelope: the wrapped key is not an SM4 key")
    return _sm4_cbc(response.data, sealed[:16], sealed[16:], encrypt=False)
