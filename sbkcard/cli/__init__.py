"""The ``sbkcard`` command line.

Each module in this package is one command group: it defines
``register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None``
which adds its sub-commands, each with ``set_defaults(func=...)`` taking the parsed
namespace and returning an exit code.  Modules are found by name, so adding a
command means adding a module here and nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from sbkcard import __version__
from sbkcard.errors import SbkcardError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="sbkcard",
        description="Toolkit for China's national social security card (社会保障卡).",
    )
    parser.add_argument("--version", action="version", version=f"sbkcard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sbkcard`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        code: int = func(args)
    except SbkcardError as exc:
        print(f"sbkcard: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
