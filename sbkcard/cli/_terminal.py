"""The counter's terminal as the command line describes it: card, PSAM or key service,
hotlist, PIN pad (shared by ``read``, ``pin`` and ``purse``)."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager
from pathlib import Path

from sbkcard.cli._common import UsageError
from sbkcard.cli.keys import add_passphrase_argument
from sbkcard.database import is_url
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm
from sbkcard.keys.passphrase import resolve_passphrase
from sbkcard.keys.store_keyset import PKCS11_SCHEME, is_demo
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.operations.pinpad import CallbackPinPad, ConsolePinPad, PinPad, PinPrompt
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import Transport


def add_card_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--card IMAGE | --reader NAME`` (``--sim`` kept as a hidden alias of ``--card``)."""
    card = parser.add_mutually_exclusive_group(required=required)
    card.add_argument("--card", type=Path, metavar="IMAGE", help="a simulated card image")
    card.add_argument("--sim", type=Path, dest="card", help=argparse.SUPPRESS)
    card.add_argument("--reader", metavar="NAME", help="a PC/SC reader holding the card")


def add_terminal_arguments(parser: argparse.ArgumentParser, *, pin: bool = False) -> None:
    """The card, the PSAM or key service, the hotlist and (``pin``) the PIN source."""
    add_card_arguments(parser)
    psam = parser.add_mutually_exclusive_group()
    psam.add_argument("--psam", type=Path, metavar="IMAGE", help="a simulated PSAM image")
    psam.add_argument("--psam-reader", metavar="NAME", help="a PC/SC reader holding the PSAM")
    parser.add_argument(
        "--hsm-keys",
        metavar="KEYSTORE",
        help="without a PSAM: a software key service over these issuer keys ('demo': the "
        "published TEST keys, or a key store)",
    )
    add_passphrase_argument(parser)
    parser.add_argument(
        "--hotlist",
        metavar="DB|URL",
        help="refuse cards on this hotlist: an SQLite file (must exist) or a postgresql:// URL",
    )
    if pin:
        parser.add_argument(
            "--pin-file",
            metavar="FILE",
            help="PINs one per line, in the order asked ('-': standard input); "
            "default: the PIN pad prompt (no echo)",
        )


def existing_hotlist(path: str, option: str = "--hotlist") -> Hotlist:
    """The hotlist at ``path``, which must exist: a hotlist is configuration, not scratch
    (a ``postgresql://`` URL names a database server, which :class:`Hotlist` opens)."""
    if not is_url(path) and not Path(path).is_file():
        raise SbkcardError(
            f"{option} {path}: no such hotlist (create one with 'sbkcard hotlist new {path}')"
        )
    return Hotlist(path)


def store_secret(spec: str, passphrase_file: Path | None, option: str) -> str | None:
    """The passphrase of key store ``spec`` (``None`` for ``demo``); the store must exist."""
    if is_demo(spec):
        return None
    if not spec.startswith(PKCS11_SCHEME) and not Path(spec).is_file():
        raise SbkcardError(
            f"{option} {spec}: no such key store ('demo', a key store file, or pkcs11:token=LABEL)"
        )
    return resolve_passphrase(passphrase_file, prompt=f"Key store passphrase ({spec}): ")


def key_service(spec: str | None, passphrase_file: Path | None) -> SoftwareKeyService | None:
    """The key service of ``--hsm-keys`` (DES and SM4 roots, whichever it has).

    A PKCS#11 token's DES roots never leave it (Part 10 §6.4.2.2; it holds no SM4): the
    token stays open for the command's life and derives each card key asked for.
    """
    if spec is None:
        return None
    from sbkcard.keys.store_keyset import StoreKeySet, load_keyset, open_store

    secret = store_secret(spec, passphrase_file, "--hsm-keys")
    if spec.startswith(PKCS11_SCHEME):
        store = open_store(spec, secret or "")
        return SoftwareKeyService(StoreKeySet.from_store(store, Algorithm.DES))
    keysets = {}
    for algorithm in (Algorithm.DES, Algorithm.SM4):
        try:
            keys = load_keyset(spec, secret, algorithm=algorithm)
        except SbkcardError:
            continue
        keysets[keys.algorithm] = keys
    if not keysets:
        raise SbkcardError(f"--hsm-keys {spec}: no extractable DES or SM4 national roots")
    return SoftwareKeyService(list(keysets.values()))


def open_transport(image: Path | None, reader: str | None) -> Transport | None:
    """The simulated card in ``image`` or the card in PC/SC reader ``reader`` (or None)."""
    if image is not None:
        from sbkcard.simulator.image import load_image

        return load_image(image)
    if reader is not None:
        from sbkcard.terminal.transports.pcsc import PcscTransport

        return PcscTransport(reader)
    return None


class FilePinPad:
    """PINs from a file or standard input, one per line, in the order asked (scripts)."""

    def __init__(self, source: str) -> None:
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
        except OSError as exc:
            raise SbkcardError(f"--pin-file {source}: cannot read ({exc.strerror})") from exc
        self._pins = [line.strip() for line in text.splitlines() if line.strip()]

    def read_pin(self, prompt: PinPrompt) -> str:
        if not self._pins:
            raise SbkcardError(
                f"--pin-file: no PIN left for {prompt.name.lower()} ({prompt.value})"
            )
        return self._pins.pop(0)


def pinpad(args: argparse.Namespace) -> PinPad:
    """The PIN pad: ``--pin-file`` (or ``-``), else a no-echo prompt on a terminal."""
    source = getattr(args, "pin_file", None)
    if source is not None:
        return FilePinPad(source)
    if not sys.stdin.isatty():
        return CallbackPinPad(_no_terminal)
    return ConsolePinPad()


def _no_terminal(prompt: PinPrompt) -> str:
    raise UsageError("a PIN is needed: give --pin-file FILE (or '-' for standard input)")


def build_terminal(args: argparse.Namespace) -> Terminal:
    """The terminal ``args`` describe (card, PSAM or key service, hotlist, PIN pad)."""
    card = open_transport(args.card, args.reader)
    assert card is not None
    psam = open_transport(args.psam, args.psam_reader)
    service = None if psam is not None else key_service(args.hsm_keys, args.passphrase_file)
    hotlist = existing_hotlist(args.hotlist) if args.hotlist is not None else None
    pad = pinpad(args) if hasattr(args, "pin_file") else None
    return Terminal(card, psam_reader=psam, key_service=service, hotlist=hotlist, pinpad=pad)


def card_image_locked(args: argparse.Namespace, holder: str) -> AbstractContextManager[None]:
    """The lock on ``--card IMAGE`` while ``holder`` works on it (refused while a
    ``sbkcard sim`` serves the image); nothing to lock for a card in a reader."""
    from sbkcard.simulator.locks import images_locked

    return images_locked([] if args.card is None else [args.card], holder)


def save_card(args: argparse.Namespace, terminal: Terminal) -> None:
    """Write a simulated card's new state (tries counter, purse) back to its image."""
    if args.card is not None:
        from sbkcard.simulator import SimulatedCard, save_image

        assert isinstance(terminal.card_reader, SimulatedCard)
        save_image(terminal.card_reader, args.card)
