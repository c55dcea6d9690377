"""The ``sbkcard`` command line.

Each module in this package is one command group: it defines
``register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None``
which adds its sub-commands, each with ``set_defaults(func=...)`` taking the parsed
namespace and returning an exit code.  Modules are found by name, so adding a
command means adding a module here and nothing else; only the module of the command
being run is imported.

Exit codes: 0 success, 1 a runtime failure (one line on standard error, never a
traceback unless ``--debug`` or ``$SBKCARD_DEBUG`` asks for it), 2 a usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 141 output pipe closed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from collections.abc import Sequence

from sbkcard import __version__
from sbkcard.cli._common import EXAMPLES, HelpFormatter, Interrupted, UsageError
from sbkcard.errors import SbkcardError

DEBUG_ENV = "SBKCARD_DEBUG"
"""Set (to anything but empty or ``0``) to show the traceback of an unexpected error."""


def _commands() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``argv`` naming a command, only that group is imported."""
    parser = argparse.ArgumentParser(
        prog="sbkcard",
        description="Toolkit for China's national social security card (社会保障卡).",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sbkcard {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an unexpected error (also ${DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = _commands()
    chosen = [word for word in argv or () if not word.startswith("-")][:1]
    for name in chosen if chosen and chosen[0] in names else names:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def _debug(args: argparse.Namespace | None) -> bool:
    flag = os.environ.get(DEBUG_ENV, "")
    return bool(getattr(args, "debug", False)) or flag not in ("", "0")


def _fail(message: str) -> None:
    print(f"sbkcard: error: {message}", file=sys.stderr)


def _terminate(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sbkcard`` console script: the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None
    try:
        parser = build_parser(words)
        args = parser.parse_args(words)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return 0
        code: int = func(args)
        sys.stdout.flush()
        return code
    except UsageError as exc:
        _fail(str(exc))
        return 2
    except SbkcardError as exc:
        if _debug(args):
            raise
        _fail(str(exc))
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"sbkcard: {signal.Signals(signum).name}: stopped", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        # the reader of our output went away (``| head``): no more output, no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # standard output is not a file (in-process use)
            pass
        finally:
            os.close(devnull)
        return 141  # 128 + SIGPIPE, as a shell reports a pipe closed under a command
    except Exception as exc:
        if _debug(args):
            raise
        what = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
        _fail(f"{what or type(exc).__name__} ({type(exc).__name__}; --debug shows where)")
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
