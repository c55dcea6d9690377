"""Run every benchmark module and print one table (``make bench``)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from rich.console import Console
from rich.table import Table

import benchmarks
from benchmarks.harness import Row


def main(names: list[str]) -> int:
    rows: list[Row] = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        if names and info.name.removeprefix("bench_") not in names:
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        rows.extend(module.run())
    table = Table(title="sbkcard benchmarks (same run, side by side)")
    for col in ("benchmark", "sbkcard", "peer", "unit", "advantage (>1: sbkcard better)", "target"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.name,
            f"{r.ours:,.1f}",
            f"{r.peer:,.1f} ({r.peer_name})",
            r.unit,
            f"{r.ratio:.2f}x",
            r.target,
        )
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
