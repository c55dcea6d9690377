"""The vendor-specific facts of a certificate application, declared once as data.

LD/T 6001.3-2023 names a certificate application on the third-generation card, but no
public text gives its AIDs, files or commands.  :data:`KIOSK_PROFILE` declares what one
card-issuing kiosk's public driver sends; a card from another vendor is another
:class:`CertProfile`.  Which fact comes from where:

* from the kiosk driver: the DDF name ``PKI.社会保障`` and ADF name ``SS.CERT.ADF1``; the
  key files 0012/0013 (signing public/private), 0014/0015 (encryption public/private),
  the certificate files 0018/0019; an all-zero 0012 meaning "no key pair"; certificates
  written by UPDATE BINARY in ``0x70``-byte chunks; the user-PIN hash command
  ``80 C4 01 03``, GET CHALLENGE of 16 bytes and VERIFY ``00 20 01 81`` with
  ``SM4(hash[0:16], challenge)``; the administrator VERIFY ``00 20 01 00`` and its
  change ``84 5E 01 00`` with an SM4 MAC; key
  generation ``80 40 00 00`` with ``C0``/``C2`` file references; the public-key export
  ``80 C9 82 00`` / ``80 C9 82 80``; the envelope import ``80 4E 00 01``,
  ``80 4A 02 10``, ``80 C2 40 00`` (tag ``CA``), ``80 C2 C0 01`` (tag ``CB``);
* this profile's choices where the driver is silent: the hash is
  ``SM3(SM3(PIN) ‖ nonce)`` with a nonce that stays in the card (a trace of it is no
  PIN equivalent); ``80 C9 82 00`` carries the file ID to export; ``80 4A 02 10`` has no data;
  the private key of ``CB`` is SM4-ECB under the session key; signing is ISO/IEC 7816-8
  PERFORM SECURITY OPERATION ``00 2A 9E 9A`` over the 32-byte digest
  ``e = SM3(Z ‖ M)`` (GM/T 0009 §7, Z with the default identity); deciphering a
  digital envelope's key is PERFORM SECURITY OPERATION DECIPHER ``00 2A 80 86`` over
  ``C1 ‖ C3 ‖ C2`` with the encryption private key; file sizes and tries;
* this profile's choices for what GM/T 0016 names (SKF_ChangePIN, SKF_UnblockPIN) and
  the driver does not send: the user PIN's change ``84 5E 01 81`` (the administrator
  change's command, P2 of the user VERIFY) and its unblock ``84 24 01 81`` (the SSSE's
  PIN reload ``84 24``, P1 P2 of the user VERIFY), both after an 8-byte GET CHALLENGE:
  ``SM4(K, LD ‖ new PIN ‖ 80 00…) ‖ MAC`` under ``K = SM4(SM3(PIN)[0:16], challenge ‖
  00…)``, the PIN the old user PIN (change) or the administrator PIN (unblock); the
  MAC and encryption of secure messaging (Part 4 §8.2–8.3).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KIOSK_PROFILE", "CertProfile"]


@dataclass(frozen=True)
class CertProfile:
    """AIDs, file IDs, command headers and sizes of one vendor's certificate application."""

    name: str
    ddf_name: bytes
    adf_name: bytes
    sign_public: int
    sign_private: int
    enc_public: int
    enc_private: int
    sign_certificate: int
    enc_certificate: int
    certificate_size: int
    chunk: int
    pin_hash: bytes
    verify_user: bytes
    verify_admin: bytes
    change_admin: bytes
    change_user: bytes
    unblock_user: bytes
    generate: bytes
    export_select: bytes
    export_read: bytes
    envelope: bytes
    session_key: bytes
    import_public: bytes
    import_private: bytes
    sign: bytes
    decipher: bytes
    challenge_length: int = 16
    user_tries: int = 3
    admin_tries: int = 5

    @property
    def private_files(self) -> frozenset[int]:
        """The files holding private keys: never readable."""
        return frozenset((self.sign_private, self.enc_private))

    @property
    def public_files(self) -> frozenset[int]:
        """The files holding public keys (64 bytes X ‖ Y; all zero: no key yet)."""
        return frozenset((self.sign_public, self.enc_public))

    @property
    def certificate_files(self) -> frozenset[int]:
        """The certificate files (DER, zero-filled to :attr:`certificate_size`)."""
        return frozenset((self.sign_certificate, self.enc_certificate))

    @property
    def pairs(self) -> dict[int, int]:
        """Public-key file → its private-key file."""
        return {self.sign_public: self.sign_private, self.enc_public: self.enc_private}


KIOSK_PROFILE = CertProfile(
    name="kiosk",
    ddf_name=bytes.fromhex("504B492EC9E7BBE1B1A3D5CF"),
    adf_name=b"SS.CERT.ADF1",
    sign_public=0x0012,
    sign_private=0x0013,
    enc_public=0x0014,
    enc_private=0x0015,
    sign_certificate=0x0018,
    enc_certificate=0x0019,
    certificate_size=0x800,
    chunk=0x70,
    pin_hash=bytes.fromhex("80C40103"),
    verify_user=bytes.fromhex("00200181"),
    verify_admin=bytes.fromhex("00200100"),
    change_admin=bytes.fromhex("845E0100"),
    change_user=bytes.fromhex("845E0181"),
    unblock_user=bytes.fromhex("84240181"),
    generate=bytes.fromhex("80400000"),
    export_select=bytes.fromhex("80C98200"),
    export_read=bytes.fromhex("80C98280"),
    envelope=bytes.fromhex("804E0001"),
    session_key=bytes.fromhex("804A0210"),
    import_public=bytes.fromhex("80C24000"),
    import_private=bytes.fromhex("80C2C001"),
    sign=bytes.fromhex("002A9E9A"),
    decipher=bytes.fromhex("002A8086"),
)
"""The kiosk driver's certificate application (see the module docstring)."""
