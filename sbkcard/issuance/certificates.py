"""Certificate issuance for a third-generation card (the kiosk's flow, LD/T 6001.5 §7).

The terminal reads nothing secret: it verifies the administrator PIN, has the card make
its signing key pair, sends the public key to the CA, which issues the signing
certificate and an encryption key pair with its certificate, the private key sealed in
a digital envelope for the card's signing key; the terminal writes both certificates
and the envelope to the card.  Each step is one or a few card commands, each a
journaled transaction on the card, so a card torn mid-issuance has whole files or none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sbkcard.applet_model.cert_app.card import ThirdGenerationCard
from sbkcard.applet_model.cert_app.content import cert_app_content
from sbkcard.applet_model.cert_app.financial import financial_content
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile
from sbkcard.applet_model.user_card.personalise import DEMO_PIN
from sbkcard.keys.certificates import CertificateAuthority, seeded_random
from sbkcard.keys.store import KeyAlgorithm, KeyStore, KeyStoreError
from sbkcard.simulator import SimulatedCard
from sbkcard.simulator.nvm import JournaledNVM
from sbkcard.terminal.operations import pki
from sbkcard.terminal.transports.transport import ReaderSession, Transport

__all__ = [
    "DEMO_ADMIN_PIN",
    "DEMO_CA_NAME",
    "IssuedCertificates",
    "ca_from_store",
    "demo_ca",
    "issue_certificates",
    "third_generation_card",
]

DEMO_ADMIN_PIN = "12345678"
"""The administrator PIN of demo cards (TEST only)."""
DEMO_CA_NAME = "sbkcard demo CA (TEST)"


def ca_from_store(store: KeyStore, label: str, name: str) -> CertificateAuthority:
    """The CA whose SM2 key is ``label`` in ``store`` (an extractable software-store key).

    The key is copied out of the store for the CA's lifetime; its certificate is made
    anew (self-signed) each time, for the same key and name.
    """
    info = store.info(label)
    if info.algorithm is not KeyAlgorithm.SM2:
        raise KeyStoreError(f"CA key {label!r} is {info.algorithm.value}, not an SM2 key")
    with store.use(label) as key:
        return CertificateAuthority(name, bytes(key))


def demo_ca() -> CertificateAuthority:
    """The demo CA: its key derived from a published seed (TEST only, never for real cards)."""
    return CertificateAuthority.from_seed(DEMO_CA_NAME, b"demo")


@dataclass(frozen=True)
class IssuedCertificates:
    """What issuance wrote: the two certificates (DER) and the two public keys."""

    signing_certificate: bytes
    encryption_certificate: bytes
    signing_public: bytes
    encryption_public: bytes


def issue_certificates(
    card: Transport,
    ca: CertificateAuthority,
    subject: str,
    *,
    admin_pin: str = DEMO_ADMIN_PIN,
    profile: CertProfile = KIOSK_PROFILE,
) -> IssuedCertificates:
    """Run the issuance flow on the card in ``card`` (powered here, and off at the end)."""
    session = ReaderSession(card, device="card")
    session.power_on()
    try:
        pki.select_application(session, profile)
        pki.verify_admin_pin(session, profile, admin_pin)
        public = pki.generate_signing_key(session, profile)
        signing = ca.issue_signing(subject, public)
        encryption, blob = ca.issue_encryption(subject, public)
        pki.write_certificate(session, profile, profile.sign_certificate, signing, public)
        pki.import_envelope(session, profile, blob)
        pki.write_certificate(session, profile, profile.enc_certificate, encryption, blob.public)
    finally:
        session.power_off()
    return IssuedCertificates(signing, encryption, public, blob.public)


def third_generation_card(
    content: Mapping[str, bytes],
    atr: bytes,
    subject: str,
    *,
    ca: CertificateAuthority | None = None,
    user_pin: str = DEMO_PIN,
    admin_pin: str = DEMO_ADMIN_PIN,
) -> tuple[SimulatedCard, IssuedCertificates]:
    """A third-generation card: the user card's ``content``, the certificate application
    (key pair made on the card, certificates from ``ca``) and the financial application's
    directory.  Without ``ca``: the demo CA, and the card's key pair drawn from a source
    seeded by the ATR, so that a demo card is reproducible (TEST keys, like the demo key set).
    """
    full = {**content, **cert_app_content(user_pin, admin_pin), **financial_content()}
    nvm = JournaledNVM(full)
    random = None if ca is not None else seeded_random(b"demo card\0" + atr)
    applet = ThirdGenerationCard(nvm, random=random or os.urandom)
    card = SimulatedCard(applet, nvm, atr, kind="user-card-3", profile=3)
    issued = issue_certificates(card, ca or demo_ca(), subject, admin_pin=admin_pin)
    return SimulatedCard.create("user-card-3", card.snapshot().storage, atr, profile=3), issued
