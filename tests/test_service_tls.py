"""``sbkcard hsm serve`` with mutual TLS: the counter shows a client certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from service_support import HSM_TOKEN_ENV, TOKEN, CliServer, counter, free_port, post, run, slot

from sbkcard.service.hsm_client import HttpHsmClient
from sbkcard.service.run import client_tls

NOW = dt.datetime.now(dt.UTC)


def _issue(
    directory: Path, name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return subject, key


def test_mutual_tls_between_the_counter_and_the_hsm_service(tmp_path: Path) -> None:
    ca = _issue(tmp_path, "ca", None)
    _issue(tmp_path, "hsm", ca)
    _issue(tmp_path, "counter", ca)
    port = free_port()
    hsm = CliServer(
        tmp_path / "hsm.log", "hsm", "serve", "--keys", "demo", "--port", str(port),
        "--tls-cert", str(tmp_path / "hsm.pem"), "--tls-key", str(tmp_path / "hsm.key"),
        "--client-ca", str(tmp_path / "ca.pem"), env=HSM_TOKEN_ENV,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    with_cert = client_tls(tmp_path / "ca.pem", tmp_path / "counter.pem", tmp_path / "counter.key")
    without = client_tls(tmp_path / "ca.pem")

    async def scenario() -> None:
        for context, code in ((with_cert, 0), (without, -5)):
            client = HttpHsmClient(url, TOKEN, context=context)
            async with counter(slot(with_psam=False), hsm=client) as (base, session, _):
                _, answer = await post(session, f"{base}/api/iReadCardBas", {"iType": 1})
                assert answer["code"] == code, answer

    try:
        run(scenario())
    finally:
        assert hsm.stop() == 0
