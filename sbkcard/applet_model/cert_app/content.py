"""The storage of a new certificate application, and which of its keys are secrets."""

from __future__ import annotations

from sbkcard.applet_model.cert_app.applet import ADMIN_PIN, USER_PIN, file_key, pin_record
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile

__all__ = ["cert_app_content", "is_secret", "pin_bcd"]

_SECRET_PREFIXES = ("key:", "pin:", "pki:sk:", "pki:pin:")
"""The user card's keys and PINs, and the application's private keys and PIN records."""


def is_secret(key: str) -> bool:
    """Whether storage ``key`` of a third-generation card holds a secret (masked in images)."""
    return key.startswith(_SECRET_PREFIXES)


def pin_bcd(pin: str) -> bytes:
    """A PIN of 4 to 16 digits as BCD, padded with ``F`` (as the ``C1`` value carries it)."""
    if not pin.isdigit() or not 4 <= len(pin) <= 16 or not pin.isascii():
        raise ValueError("a PIN is 4 to 16 digits")
    return bytes.fromhex(pin + "F" * (len(pin) % 2))


def cert_app_content(
    user_pin: str, admin_pin: str, profile: CertProfile = KIOSK_PROFILE
) -> dict[str, bytes]:
    """Empty key and certificate files and the two PINs: the application before issuance."""
    out = {file_key(fid): bytes(64) for fid in profile.public_files}
    for fid in profile.certificate_files:
        out[file_key(fid)] = bytes(profile.certificate_size)
    out[USER_PIN] = pin_record(pin_bcd(user_pin), profile.user_tries)
    out[ADMIN_PIN] = pin_record(pin_bcd(admin_pin), profile.admin_tries)
    return out
