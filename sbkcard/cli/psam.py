"""``sbkcard psam``: simulated PSAMs (Part 9).

::

    sbkcard psam new --out IMAGE [--keys KEYSTORE] [--terminal-number N] [--level {1,2,3}]
                     [--algorithm {DES,SM4}] [--serial DIGITS] [--blank] [--force]

``new`` personalises a PSAM and writes its card image (applet kind ``psam``), which
``sbkcard sim --psam IMAGE`` serves and ``sbkcard card send`` talks to.  KEYSTORE is
``demo`` (the published TEST keys; ``demo:DES``, ``demo:SM4`` for one environment) or a
software key store with extractable national roots (``sbkcard keys``); an environment
is made for each algorithm the store has roots of.  The PSAM's own keys (ADF master
key, KID-01…03) are the published TEST ones; ``sbkcard ceremony`` makes key cards with
an issuer's own.  ``--blank`` makes a PSAM with its files and own keys but no card
keys, for ``sbkcard ceremony load-psam`` to load.  Keys are shown by their check values
only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sbkcard.applet_model.psam import (
    ENVIRONMENTS,
    PsamError,
    card_key_records,
    demo_admin_keys,
    psam_atr,
    psam_content,
)
from sbkcard.applet_model.psam.content import DEMO_SERIAL, DEMO_TERMINAL_NUMBER
from sbkcard.applet_model.psam.layout import environment_for
from sbkcard.cli._common import UsageError, command_parser, plain_doc
from sbkcard.cli.keys import add_keys_arguments
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import DEMO_LABEL, KeySet
from sbkcard.keys.passphrase import resolve_passphrase
from sbkcard.keys.store import KeyStoreError
from sbkcard.keys.store_keyset import DEMO, StoreKeySet, load_keyset, open_store
from sbkcard.simulator import SimulatedCard, save_image
from sbkcard.simulator.locks import images_locked

_ALGORITHMS = {"DES": Algorithm.DES, "SM4": Algorithm.SM4}
_LEVELS = {
    3: "national roots: serves cards of any region",
    2: "provincial roots: serves cards of the terminal's province",
    1: "city roots: serves cards of the terminal's city",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard psam``."""
    parser = subparsers.add_parser(
        "psam",
        help="make simulated PSAMs (the terminal's secure access module)",
        description="Simulated PSAMs (Part 9 of the standard).",
    )
    sub = parser.add_subparsers(dest="psam_command", metavar="COMMAND", required=True)
    new = command_parser(
        sub,
        "new",
        help="personalise a PSAM and write its card image",
        description=plain_doc(__doc__),
        example=(
            "sbkcard psam new --level 2 --out psam.json",
            "sbkcard psam new --keys store.json --passphrase-file pass.txt --algorithm SM4 "
            "--terminal-number 330100000001 --out psam.json",
        ),
    )
    new.add_argument("--out", type=Path, required=True, metavar="IMAGE", help="image to write")
    add_keys_arguments(new)
    new.add_argument(
        "--terminal-number",
        default=DEMO_TERMINAL_NUMBER,
        metavar="N",
        help="12 digits for file 0016, the first six the city code (%(default)s)",
    )
    new.add_argument(
        "--level",
        type=int,
        choices=sorted(_LEVELS),
        default=2,
        help="diversification levels the PSAM applies: 3 national, 2 provincial, 1 city "
        "roots (%(default)s)",
    )
    new.add_argument(
        "--algorithm",
        type=str.upper,
        choices=sorted(_ALGORITHMS),
        help="one environment only (default: both DES and SM4)",
    )
    new.add_argument(
        "--serial", default=DEMO_SERIAL, metavar="DIGITS", help="PSAM serial, up to 20 digits"
    )
    new.add_argument(
        "--blank",
        action="store_true",
        help="files and the PSAM's own keys only, no card keys (for 'ceremony load-psam')",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing image")
    new.set_defaults(func=_new)


def _keysets(args: argparse.Namespace) -> list[KeySet]:
    """The key sets named by ``--keys``: one per environment asked for, or found in the store."""
    spec = str(args.keys)
    if args.algorithm:
        ciphers = [_ALGORITHMS[args.algorithm]]
    elif spec.startswith(DEMO + ":"):
        ciphers = [load_keyset(spec).algorithm]
    else:
        ciphers = [Algorithm.DES, Algorithm.SM4]
    secret = None
    if spec != DEMO and not spec.startswith(DEMO + ":"):
        secret = resolve_passphrase(args.passphrase_file, prompt=f"Key store passphrase ({spec}): ")
        if not args.algorithm:
            ciphers = _ciphers_in_store(spec, secret)
    sets = [load_keyset(spec, secret, algorithm=cipher) for cipher in ciphers]
    if any(keys.algorithm is not cipher for keys, cipher in zip(sets, ciphers, strict=True)):
        raise UsageError(f"--keys {spec} does not hold {args.algorithm} keys")
    return sets


def _ciphers_in_store(spec: str, secret: str) -> list[Algorithm]:
    """The algorithms a key store holds national roots of."""
    store = open_store(spec, secret)
    try:
        found = []
        for cipher in (Algorithm.DES, Algorithm.SM4):
            try:
                StoreKeySet.from_store(store, cipher)
            except KeyStoreError:
                continue
            found.append(cipher)
    finally:
        store.close()
    if not found:
        raise SbkcardError(f"--keys {spec}: the key store holds no DES or SM4 national roots")
    return found


def _new(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists (use --force to overwrite it)")
    with images_locked([out], "sbkcard psam new"):  # refused while a sim serves it
        return _make(args, out)


def _make(args: argparse.Namespace, out: Path) -> int:
    if args.blank:
        ciphers = [_ALGORITHMS[args.algorithm]] if args.algorithm else list(_ALGORITHMS.values())
        keysets = [KeySet(cipher, {}) for cipher in ciphers]
    else:
        keysets = _keysets(args)
    try:
        content = psam_content(
            keysets, level=args.level, terminal_number=args.terminal_number, serial=args.serial
        )
        atr = psam_atr(args.terminal_number, args.serial)
    except (PsamError, ValueError) as exc:
        raise UsageError(f"cannot make the PSAM: {exc}") from exc
    card = SimulatedCard.create("psam", content, atr)
    save_image(card, out)
    region = args.terminal_number[:6]
    print(f"PSAM image written to {out}")
    print(f"  ATR              {atr.hex().upper()}")
    print(f"  terminal number  {args.terminal_number}")
    print(f"  level            {args.level} ({_LEVELS[args.level]})")
    for keys in keysets:
        env = environment_for(keys.algorithm)
        count = len(card_key_records(keys, level=args.level, region=region))
        own = demo_admin_keys(keys.algorithm).check_values(keys.algorithm)
        kcvs = ", ".join(f"{name} {value}" for name, value in own.items())
        print(f"  {env.label:<16} {count} card keys; {kcvs}")
    if args.blank:
        print("  blank: no card keys (load them with 'sbkcard ceremony load-psam')")
    elif str(args.keys).startswith(DEMO):
        print(f"  keys: {DEMO_LABEL}")
    present = {environment_for(keys.algorithm) for keys in keysets}
    for env in ENVIRONMENTS:
        if env not in present:
            print(f"  {env.label:<16} absent")
    return 0
