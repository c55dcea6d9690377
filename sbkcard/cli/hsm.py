"""``sbkcard hsm serve``: the card-holder database's HSM service for the two-step mode (S3 App. C).

::

    sbkcard hsm serve --keys KEYSTORE [--host HOST] [--port PORT] [--log-file FILE]
                      [--tls-cert PEM --tls-key PEM [--client-ca PEM]]

KEYSTORE is ``demo`` (the published TEST keys), a software key store, or a PKCS#11
token ``pkcs11:token=LABEL`` (its PIN from ``--passphrase-file``) whose DES national roots
never leave it: the token derives each card's key as an answer needs it.  Clients show the
shared token of ``$SBKCARD_HSM_TOKEN``; with ``--client-ca`` they also need a client
certificate (mutual TLS).  Loopback unless ``--host`` names another address, which then
needs TLS.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sbkcard.cli._common import UsageError, plain_doc
from sbkcard.cli.keys import add_passphrase_argument
from sbkcard.errors import SbkcardError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard hsm serve``."""
    parser = subparsers.add_parser(
        "hsm",
        help="the HSM service of the two-step mode (card-holder database side)",
        description=plain_doc(__doc__),
    )
    sub = parser.add_subparsers(dest="hsm_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="answer the *_HSM_Step* strings over HTTP")
    serve.add_argument(
        "--keys",
        required=True,
        metavar="KEYSTORE",
        help="'demo', a key store or pkcs11:token=LABEL",
    )
    add_passphrase_argument(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8766)
    serve.add_argument("--rate", type=float, default=200.0, help="requests/s per client")
    serve.add_argument("--log-file", type=Path, metavar="FILE", help="the audit log")
    serve.add_argument("--tls-cert", type=Path, metavar="PEM")
    serve.add_argument("--tls-key", type=Path, metavar="PEM")
    serve.add_argument("--client-ca", type=Path, metavar="PEM", help="require client certificates")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from sbkcard.cli._terminal import key_service
    from sbkcard.service.access import ClientAccess
    from sbkcard.service.audit import AuditLog
    from sbkcard.service.config import is_loopback
    from sbkcard.service.hsm_server import hsm_app
    from sbkcard.service.hsm_service import HsmService
    from sbkcard.service.run import serve, tls_context
    from sbkcard.terminal.security.hsm_host import HsmHost

    token = os.environ.get("SBKCARD_HSM_TOKEN", "")
    if not token:
        raise SbkcardError("$SBKCARD_HSM_TOKEN is not set: clients authenticate with it")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if not is_loopback(args.host) and args.tls_cert is None:
        raise UsageError(f"--host {args.host} is not loopback: give --tls-cert and --tls-key")
    if args.client_ca is not None and args.tls_cert is None:
        raise UsageError("--client-ca needs --tls-cert and --tls-key")
    keys = key_service(args.keys, args.passphrase_file)
    assert keys is not None
    access = ClientAccess(
        tokens=frozenset({token}), rate=args.rate, burst=max(1, int(args.rate * 2))
    )
    app = hsm_app(HsmService(HsmHost(keys)), access, AuditLog(args.log_file, name="sbkcard.hsm"))
    context = None
    if args.tls_cert is not None:
        context = tls_context(args.tls_cert, args.tls_key, args.client_ca)
    scheme = "https" if context else "http"

    def started(port: int) -> None:
        print(f"sbkcard hsm serve: {scheme}://{args.host}:{port}/hsm/", flush=True)

    return serve(app, args.host, args.port, context=context, started=started)
