"""``sbkcard serve``: the counter service, the national reader interface over HTTP and WebSocket.

::

    sbkcard serve [--config FILE] [--card IMAGE | --reader NAME] [--psam IMAGE | --psam-reader NAME]
                  [--port PORT] [--host HOST --allow-remote] [--hsm URL] [--no-hsm-fallback]
                  [--origin URL …] [--pinpad-program CMD] [--hotlist DB|URL] [--log-file FILE]

Loopback only unless ``--allow-remote`` (with TLS and a client token).  The command-line
options override the configuration file's (``--card``/``--reader`` replace its readers
with one).  The HSM service's token comes from ``$SBKCARD_HSM_TOKEN``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from sbkcard.cli._common import plain_doc
from sbkcard.service.config import ReaderConfig, ServeConfig, load


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the national reader interface to a HIS (HTTP + WebSocket, loopback)",
        description=plain_doc(__doc__),
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="a TOML configuration")
    card = parser.add_mutually_exclusive_group()
    card.add_argument("--card", type=Path, metavar="IMAGE", help="a simulated card image")
    card.add_argument("--reader", metavar="NAME", help="a PC/SC reader holding the card")
    psam = parser.add_mutually_exclusive_group()
    psam.add_argument("--psam", type=Path, metavar="IMAGE", help="a simulated PSAM image")
    psam.add_argument("--psam-reader", metavar="NAME", help="a PC/SC reader holding the PSAM")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8765; 0: any free port)")
    parser.add_argument("--allow-remote", action="store_true", default=None)
    parser.add_argument("--tls-cert", type=Path, metavar="PEM")
    parser.add_argument("--tls-key", type=Path, metavar="PEM")
    parser.add_argument("--token-env", metavar="VAR", help="clients must show $VAR's token")
    parser.add_argument("--hsm", metavar="URL", help="the HSM service (sbkcard hsm serve)")
    parser.add_argument(
        "--no-hsm-fallback", action="store_false", dest="hsm_fallback", default=None
    )
    parser.add_argument("--origin", action="append", metavar="URL", help="allow this page origin")
    parser.add_argument("--pinpad-program", metavar="CMD", help="the PIN-pad program")
    parser.add_argument("--hotlist", metavar="DB", help="an SQLite file or a postgresql:// URL")
    parser.add_argument("--log-file", type=Path, metavar="FILE", help="the audit log")
    parser.set_defaults(func=_serve)


def _config(args: argparse.Namespace) -> ServeConfig:
    config = load(args.config) if args.config is not None else ServeConfig()
    if args.card is not None or args.reader is not None:
        config.readers = [ReaderConfig(card=args.card, pcsc=args.reader)]
    if args.psam is not None or args.psam_reader is not None:
        for reader in config.readers:
            reader.psam, reader.psam_pcsc = args.psam, args.psam_reader
    overrides = {
        "host": args.host,
        "port": args.port,
        "allow_remote": args.allow_remote,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "token_env": args.token_env,
        "hsm_url": args.hsm,
        "hsm_fallback": args.hsm_fallback,
        "hotlist": args.hotlist,
        "log_file": args.log_file,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    if args.origin:
        config.origins = [*config.origins, *args.origin]
    if args.pinpad_program:
        config.pinpad = shlex.split(args.pinpad_program)
    config.check(str(args.config) if args.config is not None else "command line")
    return config


def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    from sbkcard.cli._terminal import open_transport
    from sbkcard.service.build import build_service
    from sbkcard.service.run import serve, tls_context

    service = build_service(config, os.environ, open_transport)
    context = None
    if config.tls_cert is not None and config.tls_key is not None:
        context = tls_context(config.tls_cert, config.tls_key)
    scheme = "https" if context else "http"

    def started(port: int) -> None:
        hosts = {config.host, "127.0.0.1", "localhost"}
        service.access.allow_own(f"{scheme}://{h}:{port}" for h in hosts)
        readers = ", ".join(service.readers)
        print(f"sbkcard serve: {scheme}://{config.host}:{port}/ readers: {readers}", flush=True)

    return serve(service.app(), config.host, config.port, context=context, started=started)
