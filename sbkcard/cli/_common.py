"""What every command shares: the usage error, ``--json`` output, help epilogs."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import json
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbkcard.errors import SbkcardError
from sbkcard.identifiers import CardId

EXAMPLES = """examples:
  sbkcard demo
  sbkcard card new --profile 3 --out card.json
  sbkcard read --card card.json --psam psam.json --json
  sbkcard COMMAND --help"""


class UsageError(SbkcardError):
    """Options that cannot be used together or as given (exit code 2)."""


class Interrupted(BaseException):
    """A termination signal arrived (SIGTERM); ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions wrapped paragraph by paragraph; indented lines (examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in text.split("\n\n"):
            lines = block.splitlines()
            if any(line.startswith("  ") for line in lines):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(
                    textwrap.fill(
                        " ".join(block.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(blocks)


def examples(*lines: str) -> str:
    """An argparse epilog: ``examples:`` and one command per line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def command_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str | None,
    example: tuple[str, ...],
    aliases: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """A sub-command whose help keeps its paragraphs and ends with examples."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=examples(*example),
        formatter_class=HelpFormatter,
        aliases=list(aliases),
    )


def plain_doc(doc: str | None) -> str | None:
    """A module docstring as help text: its paragraphs without the usage block
    (``::`` and what it indents) and without reST markup."""
    if not doc:
        return None
    paragraphs = [
        p.strip()
        for p in doc.strip().split("\n\n")
        if p.strip() != "::" and not all(line.startswith("    ") for line in p.splitlines())
    ]
    text = "\n\n".join(paragraphs)
    for role in (":mod:", ":func:", ":class:", ":meth:", ":data:", ":attr:"):
        text = text.replace(role, "")
    for mark in ("**", "``", "`"):
        text = text.replace(mark, "")
    return text.replace("~sbkcard.", "sbkcard.")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """``--json``: the result as one JSON document on standard output, for scripts."""
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (for scripts)"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, CardId):
        return value.hex
    if isinstance(value, bytes | bytearray):
        return value.hex().upper()
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value) if isinstance(value.value, str | int) else value.name
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def parse_date(text: str | None, option: str) -> datetime.date | None:
    """``YYYYMMDD`` given to ``option`` as a date (``None`` when not given)."""
    if text is None:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise UsageError(f"{option} {text!r}: not a date YYYYMMDD") from None


def emit_json(document: Any) -> None:
    """Print ``document`` as JSON: dataclasses as objects, bytes in hex, dates ISO 8601."""
    json.dump(_plain(document), sys.stdout, ensure_ascii=False, indent=2, sort_keys=True)
    sys.stdout.write("\n")
