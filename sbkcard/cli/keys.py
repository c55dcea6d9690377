"""``sbkcard keys``: key stores (software file or PKCS#11 token), shown by KCVs only.

::

    sbkcard keys new --out STORE [--scrypt-n N]
    sbkcard keys new-demo --out STORE [--algorithm {DES,SM4,BOTH}]
    sbkcard keys show STORE [--json]
    sbkcard keys generate STORE --label L --algorithm {DES,SM4,AES} --length N [--extractable]
    sbkcard keys delete STORE --label L
    sbkcard keys adopt STORE

STORE is the path of a software key store or ``pkcs11:token=LABEL[;module=/path.so]``.
A new store's passphrase must meet the policy (12 characters or more, 5 different,
scrypt N ≥ 2^15); ``adopt`` accepts a store whose ``STORE.generation`` file is missing
(moved, or restored deliberately) once its generation was checked against the minutes.
The passphrase (or the token's user PIN) comes from ``--passphrase-file``, from
``$SBKCARD_PASSPHRASE`` or from a prompt; never from the command line. Other commands
that need issuer keys take ``--keys KEYSTORE`` (``demo`` for the published TEST keys)
through :func:`add_keys_arguments` and :func:`keyset_from_args`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sbkcard.cli._common import add_json_argument, command_parser, emit_json, plain_doc
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import DEMO_LABEL, KeySet, demo_keyset
from sbkcard.keys.passphrase import PASSPHRASE_ENV, resolve_passphrase
from sbkcard.keys.sealing import SCRYPT_N
from sbkcard.keys.soft_store import SoftKeyStore, generation_path
from sbkcard.keys.store import KeyAlgorithm, KeyStore, root_label
from sbkcard.keys.store_keyset import DEMO, PKCS11_SCHEME, load_keyset, open_store
from sbkcard.keys.zeroize import wiped

__all__ = [
    "add_keys_arguments",
    "add_passphrase_argument",
    "keyset_from_args",
    "open_store_from_args",
    "register",
]

_DEMO_SETS = {
    "DES": (Algorithm.DES,),
    "SM4": (Algorithm.SM4,),
    "BOTH": (Algorithm.DES, Algorithm.SM4),
}


def add_passphrase_argument(parser: argparse.ArgumentParser) -> None:
    """``--passphrase-file FILE`` (the key store passphrase or the token PIN)."""
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help=f"file whose first line is the key store passphrase or token PIN (else "
        f"${PASSPHRASE_ENV}, else a prompt)",
    )


def add_keys_arguments(parser: argparse.ArgumentParser, *, default: str | None = DEMO) -> None:
    """``--keys KEYSTORE`` and ``--passphrase-file FILE`` for commands that need issuer keys."""
    parser.add_argument(
        "--keys",
        default=default,
        required=default is None,
        metavar="KEYSTORE",
        help="issuer keys: 'demo' (published TEST keys, never for real cards) or a "
        "software key store made by 'sbkcard keys' or a ceremony"
        + (f" (default {default})" if default else ""),
    )
    add_passphrase_argument(parser)


def _secret(args: argparse.Namespace, store: str, *, confirm: bool = False) -> str:
    what = "Token user PIN" if store.startswith(PKCS11_SCHEME) else "Key store passphrase"
    return resolve_passphrase(
        getattr(args, "passphrase_file", None), prompt=f"{what} ({store}): ", confirm=confirm
    )


def keyset_from_args(args: argparse.Namespace, algorithm: Algorithm) -> KeySet:
    """The :class:`KeySet` named by ``--keys`` (asking for the passphrase only if needed)."""
    spec = str(args.keys)
    if spec == DEMO or spec.startswith(DEMO + ":"):
        return load_keyset(spec, algorithm=algorithm)
    return load_keyset(spec, _secret(args, spec), algorithm=algorithm)


def open_store_from_args(args: argparse.Namespace, spec: str) -> KeyStore:
    """Open key store ``spec`` with the passphrase from ``args``."""
    return open_store(spec, _secret(args, spec))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sbkcard keys``."""
    parser = command_parser(
        subparsers,
        "keys",
        help="key stores: create, list by KCV, generate, delete",
        description=plain_doc(__doc__),
        example=(
            "sbkcard keys new-demo --out demo-store.json --algorithm SM4",
            "sbkcard keys show demo-store.json --json",
            "sbkcard keys generate store.json --label KEK-330100 --algorithm AES --length 16",
        ),
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)

    new = sub.add_parser("new", help="create an empty software key store")
    new.add_argument("--out", type=Path, required=True, metavar="STORE")
    new.add_argument(
        "--scrypt-n",
        type=int,
        default=SCRYPT_N,
        metavar="N",
        help="scrypt cost: %(default)s (the floor) or a higher power of two",
    )
    add_passphrase_argument(new)
    new.set_defaults(func=_new)

    demo = sub.add_parser(
        "new-demo", help="a software key store holding the published TEST key set"
    )
    demo.add_argument("--out", type=Path, required=True, metavar="STORE")
    demo.add_argument("--algorithm", type=str.upper, choices=sorted(_DEMO_SETS), default="BOTH")
    demo.add_argument("--scrypt-n", type=int, default=SCRYPT_N, metavar="N")
    add_passphrase_argument(demo)
    demo.set_defaults(func=_new_demo)

    show = sub.add_parser("show", help="list a store's keys: label, algorithm, length, KCV")
    show.add_argument("store", metavar="STORE")
    add_passphrase_argument(show)
    add_json_argument(show)
    show.set_defaults(func=_show)

    generate = sub.add_parser("generate", help="generate a random key inside a store")
    generate.add_argument("store", metavar="STORE")
    generate.add_argument("--label", required=True)
    generate.add_argument(
        "--algorithm", type=str.upper, required=True, choices=[a.value for a in KeyAlgorithm]
    )
    generate.add_argument("--length", type=int, required=True, help="bytes (DES 8/16, SM4 16)")
    generate.add_argument(
        "--extractable", action="store_true", help="allow the key out in clear (soft store)"
    )
    add_passphrase_argument(generate)
    generate.set_defaults(func=_generate)

    adopt = sub.add_parser(
        "adopt", help="trust a store that has no generation file beside it (rollback check)"
    )
    adopt.add_argument("store", metavar="STORE")
    add_passphrase_argument(adopt)
    adopt.set_defaults(func=_adopt)

    delete = sub.add_parser("delete", help="destroy a key")
    delete.add_argument("store", metavar="STORE")
    delete.add_argument("--label", required=True)
    add_passphrase_argument(delete)
    delete.set_defaults(func=_delete)


def _new(args: argparse.Namespace) -> int:
    path = str(args.out)
    with SoftKeyStore.create(path, _secret(args, path, confirm=True), scrypt_n=args.scrypt_n):
        print(f"empty key store written to {path}")
    return 0


def _new_demo(args: argparse.Namespace) -> int:
    path = str(args.out)
    with SoftKeyStore.create(
        path, _secret(args, path, confirm=True), scrypt_n=args.scrypt_n
    ) as store:
        for algorithm in _DEMO_SETS[args.algorithm]:
            for name, key in demo_keyset(algorithm).roots.items():
                with wiped(bytearray(key)) as buffer:
                    store.put(
                        root_label(algorithm, name),
                        buffer,
                        KeyAlgorithm.of(algorithm),
                        extractable=True,
                    )
        _print(store)
    print(f"keys: {DEMO_LABEL}")
    return 0


def _print(store: KeyStore) -> None:
    keys = store.list_keys()
    print(f"{store.description}: {len(keys)} keys")
    for info in keys:
        parsed = info.parsed
        where = "" if parsed is None else f"level {parsed.level}"
        if parsed is not None and parsed.region:
            where += f" {parsed.region}"
        flag = "extractable" if info.extractable else "non-extractable"
        print(
            f"  {info.label:<24} {info.algorithm.value:<4} {info.length:>2} bytes  "
            f"KCV {info.kcv}  {flag:<15} {where}"
        )


def _show(args: argparse.Namespace) -> int:
    store = open_store_from_args(args, args.store)
    try:
        if args.json:
            emit_json({"store": store.description, "keys": store.list_keys()})
        else:
            _print(store)
    finally:
        store.close()
    return 0


def _generate(args: argparse.Namespace) -> int:
    store = open_store_from_args(args, args.store)
    try:
        info = store.generate(
            args.label, KeyAlgorithm(args.algorithm), args.length, extractable=args.extractable
        )
    finally:
        store.close()
    print(f"generated {info.label}: {info.algorithm.value} {info.length} bytes, KCV {info.kcv}")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    path = str(args.store)
    with SoftKeyStore.open(path, _secret(args, path), adopt=True) as store:
        print(f"{path}: generation {store.generation} recorded in {generation_path(store.path)}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    store = open_store_from_args(args, args.store)
    try:
        kcv = store.info(args.label).kcv
        store.delete(args.label)
    finally:
        store.close()
    print(f"deleted {args.label} (KCV {kcv})")
    return 0
