"""SM2 through the card and the national functions against the raw library, same run.

* signing: ``00 2A 9E 9A`` on the simulated card (public key export + sign, PIN verified
  once) and ``PKI_SignData`` (a whole transaction: power-up, SSSE preprocessing, PKI
  selection, PIN, sign) against :func:`sbkcard.keys.sm2.sign_digest` called directly;
* verification: ``PKI_VerifySign`` with the certificate given, against
  :func:`sbkcard.keys.sm2.verify`;
* the SM2 arithmetic itself: this package's pure-Python SM2 against Tongsuo's;
* issuance: a card's certificates (key generation on the card, two certificates, the
  envelope) against the same CA work without the card.

The ratios are the card's and the interface's overhead over the arithmetic.
"""

from __future__ import annotations

from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec

from benchmarks.harness import Row, interleaved_rates
from sbkcard.applet_model.cert_app import cert_app_content
from sbkcard.applet_model.user_card import THIRD_GENERATION
from sbkcard.applet_model.user_card.personalise import DEMO_PIN, demo_card_content
from sbkcard.issuance.certificates import DEMO_ADMIN_PIN, demo_ca, issue_certificates
from sbkcard.keys import sm2
from sbkcard.keys.certificates import CertificateAuthority
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pki
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import ReaderSession

MESSAGE = "门诊结算单 2024-06-01 合计 123.45 元".encode("gb18030")


def _card() -> SimulatedCard:
    content = demo_card_content(THIRD_GENERATION)
    full = {**content, **cert_app_content(DEMO_PIN, DEMO_ADMIN_PIN)}
    return SimulatedCard.create("user-card-3", full, content["cos:atr"], profile=3)


def run() -> list[Row]:
    card = _card()
    issued = issue_certificates(card, demo_ca(), "bench")
    d = sm2.generate_private()
    public = sm2.public_key(d)

    session = ReaderSession(card)
    session.power_on()
    pki.select_application(session, pki.PROFILE)
    pki.verify_user_pin(session, pki.PROFILE, DEMO_PIN)
    raw_sign = lambda: sm2.sign_digest(d, sm2.digest(public, MESSAGE))  # noqa: E731
    on_card, raw = interleaved_rates(lambda: pki.sign(session, pki.PROFILE, MESSAGE), raw_sign)
    session.power_off()

    national = NationalInterface(Terminal(card_reader=card))
    text = MESSAGE.decode("gb18030")
    national_sign, raw2 = interleaved_rates(
        lambda: national.PKI_SignData(DEMO_PIN, text, 1), raw_sign, rounds=5
    )
    code, out = national.PKI_SignData(DEMO_PIN, text, 1)
    assert code == 0, out
    signature = out.rstrip("|")
    cert_hex = issued.signing_certificate.hex()
    raw_sig = bytes.fromhex(signature)
    national_verify, raw_verify = interleaved_rates(
        lambda: national.PKI_VerifySign("", cert_hex, text, signature, 1),
        lambda: sm2.verify(issued.signing_public, MESSAGE, raw_sig),
    )

    tongsuo_key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SM2())
    ours_sign, tongsuo_sign = interleaved_rates(
        raw_sign, lambda: tongsuo_key.sign(MESSAGE, ec.ECDSA(hashes.SM3()))
    )

    ca = CertificateAuthority("bench CA", sm2.generate_private())

    def issue_card() -> None:
        issue_certificates(_card(), ca, "bench")

    def issue_offline() -> None:
        key = sm2.generate_private()
        ca.issue_signing("bench", sm2.public_key(key))
        ca.issue_encryption("bench", sm2.public_key(key))

    per_card, offline = interleaved_rates(issue_card, issue_offline, rounds=3, seconds=1.0)
    return [
        Row("SM2 sign on the card (APDUs)", on_card, raw, "sign/s", "sm2.sign_digest"),
        Row("PKI_SignData (whole transaction)", national_sign, raw2, "sign/s", "sm2.sign_digest"),
        Row(
            "PKI_VerifySign (certificate given)",
            national_verify,
            raw_verify,
            "verify/s",
            "sm2.verify",
        ),
        Row("SM2 sign, pure Python", ours_sign, tongsuo_sign, "sign/s", "Tongsuo"),
        Row("certificate issuance", per_card, offline, "cards/s", "CA work, no card"),
    ]
