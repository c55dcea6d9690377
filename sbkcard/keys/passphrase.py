"""Where a passphrase or PIN comes from: a file, the environment, or a prompt — never argv.

A command-line argument would land in the shell history and in ``ps`` output, so the
key store passphrase (or the PKCS#11 PIN) is read, in this order, from a file named by
``--passphrase-file``, from the environment variable ``SBKCARD_PASSPHRASE``, or from
the terminal without echo.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from sbkcard.keys.store import KeyStoreError

__all__ = ["PASSPHRASE_ENV", "resolve_passphrase"]

PASSPHRASE_ENV = "SBKCARD_PASSPHRASE"


def resolve_passphrase(
    passphrase_file: str | os.PathLike[str] | None = None,
    *,
    prompt: str = "Key store passphrase: ",
    env: str = PASSPHRASE_ENV,
    confirm: bool = False,
) -> str:
    """The passphrase from ``passphrase_file``, else ``$SBKCARD_PASSPHRASE``, else a prompt.

    The file's first line is the passphrase (a trailing newline is dropped). A prompt is
    only shown when standard input is a terminal; ``confirm`` asks twice (new stores).
    """
    if passphrase_file is not None:
        try:
            text = Path(passphrase_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyStoreError(f"passphrase file {passphrase_file}: {exc.strerror}") from exc
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise KeyStoreError(f"passphrase file {passphrase_file}: empty first line")
        return lines[0]
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise KeyStoreError(
            f"no passphrase: give --passphrase-file FILE or set {env} "
            "(standard input is not a terminal, so there is nobody to ask)"
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != first:
        raise KeyStoreError("the two passphrases differ")
    if not first:
        raise KeyStoreError("empty passphrase")
    return first
