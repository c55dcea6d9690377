"""``card show`` rows of a third-generation card's certificate and financial applications.

Certificates are decoded (subject, issuer's signature check left to ``PKI_VerifySign``),
public keys shown by their SM3 fingerprint, private keys and PIN records masked: their
state (present, tries) is shown, never their value.
"""

from __future__ import annotations

from collections.abc import Mapping

from sbkcard.applet_model.cert_app.applet import ADMIN_PIN, USER_PIN, file_key, secret_key
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile
from sbkcard.keys.certificates import CertificateError, certificate_public_key, certificate_subject
from sbkcard.keys.hashing import sm3

__all__ = ["MASK", "cert_app_rows"]

MASK = "••••••"


def _fingerprint(public: bytes) -> str:
    return "SM3 " + sm3(public)[:6].hex().upper()


def cert_app_rows(
    storage: Mapping[str, bytes], profile: CertProfile = KIOSK_PROFILE
) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(file, what, value) rows and the storage keys they cover; no rows without the app."""
    if USER_PIN not in storage:
        return [], set()
    rows: list[tuple[str, str, str]] = [("", "DDF", profile.ddf_name.decode("gbk"))]
    rows.append(("", "ADF", profile.adf_name.decode("ascii")))
    used = {USER_PIN, ADMIN_PIN}
    for name, key in (("user PIN", USER_PIN), ("administrator PIN", ADMIN_PIN)):
        record = storage[key]
        rows.append(("", name, f"set, {MASK}; {record[0]} of {record[1]} tries left"))
    for public_fid, private_fid in sorted(profile.pairs.items()):
        public = storage.get(file_key(public_fid), b"")
        used |= {file_key(public_fid), secret_key(private_fid)}
        kind = "signing" if public_fid == profile.sign_public else "encryption"
        if not any(public):
            rows.append((f"{public_fid:04X}", f"{kind} public key", "none (all 00)"))
            continue
        rows.append((f"{public_fid:04X}", f"{kind} public key", _fingerprint(public)))
        held = "present" if secret_key(private_fid) in storage else "missing"
        rows.append((f"{private_fid:04X}", f"{kind} private key", f"{held}, {MASK}"))
    for fid in sorted(profile.certificate_files):
        body = storage.get(file_key(fid), b"")
        used.add(file_key(fid))
        kind = "signing" if fid == profile.sign_certificate else "encryption"
        if not any(body):
            rows.append((f"{fid:04X}", f"{kind} certificate", "none"))
            continue
        try:
            length = 4 + int.from_bytes(body[2:4], "big") if body[1] == 0x82 else 2 + body[1]
            der = body[:length]
            text = f"{certificate_subject(der)}; key {_fingerprint(certificate_public_key(der))}"
        except (CertificateError, IndexError) as exc:
            text = f"does not decode: {exc}"
        rows.append((f"{fid:04X}", f"{kind} certificate", text))
    for key in sorted(k for k in storage if k.startswith("fin:")):
        used.add(key)
        rows.append(("", f"financial application {key[4:]}", storage[key].hex().upper()))
    return rows, used
