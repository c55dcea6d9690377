"""A trace drawn as a sequence diagram of the terminal, the card and the PSAM.

:func:`sequence_dot` writes Graphviz ``dot`` text: one lifeline per participant (the
card left, the terminal in the middle, the PSAM right; only those the trace names), an
arrow from the terminal for each command, labelled with its number, the name its device
gives it and the file it addressed (:func:`~sbkcard.applet_model.traces.decode_trace`),
and an arrow back with the status word (Part 5 table 2) when one was recorded.  Only
names, file paths and status words are drawn, so no PIN or key data reaches the picture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sbkcard.apdu.status import describe
from sbkcard.applet_model.drawing import quote
from sbkcard.applet_model.traces.decode import TracedExchange, decode_trace, sw_of

__all__ = ["PARTICIPANTS", "sequence_dot"]

PARTICIPANTS = ("card", "terminal", "psam")
"""The lifelines, left to right."""

_FILE = re.compile(r"SSSE(?:/\w+)*|SFI [0-9A-F]{2}|\b[0-9A-F]{4}\b")
"""The file a decoder's ``file:`` note names: a path, a bare SFI or a PSAM FID."""


@dataclass
class _Arrow:
    device: str
    first: int
    last: int
    name: str
    file: str | None
    sw: int | None
    times: int = 1

    def label(self) -> str:
        numbers = f"#{self.first}" if self.first == self.last else f"#{self.first}–#{self.last}"
        count = f" ×{self.times}" if self.times > 1 else ""
        return " ".join([numbers, self.name + count, *([self.file] if self.file else [])])


def _repeats(arrows: Sequence[_Arrow], at: int, period: int) -> int:
    """How many times the block of ``period`` arrows at ``at`` repeats from there."""

    def key(a: _Arrow) -> tuple[str, str, int | None]:
        return a.device, a.name, a.sw

    block = [key(a) for a in arrows[at : at + period]]
    times = 1
    while [key(a) for a in arrows[at + times * period : at + (times + 1) * period]] == block:
        times += 1
    return times


def _collapsed(arrows: Sequence[_Arrow]) -> list[_Arrow]:
    """Runs of one command, or of a pair of commands, drawn once with their count."""
    out: list[_Arrow] = []
    at = 0
    while at < len(arrows):
        for period in (1, 2):
            times = _repeats(arrows, at, period)
            if times > 1:
                break
        else:
            out.append(arrows[at])
            at += 1
            continue
        for j in range(period):
            runs = arrows[at + j : at + times * period : period]
            files = {a.file for a in runs}
            first = runs[0]
            out.append(
                _Arrow(
                    first.device,
                    first.first,
                    runs[-1].last,
                    first.name,
                    first.file if len(files) == 1 else None,
                    first.sw,
                    times,
                )
            )
        at += times * period
    return out


def _arrows(traced: Sequence[TracedExchange]) -> list[_Arrow]:
    arrows: list[_Arrow] = []
    for one, traced_one in zip(decode_trace(traced), traced, strict=True):
        files = [m.group(0) for n in one.notes if n.startswith("file: ") and (m := _FILE.search(n))]
        sw = sw_of(traced_one.exchange)
        arrows.append(
            _Arrow(one.device, one.number, one.number, one.name, next(iter(files), None), sw)
        )
    return arrows


def sequence_dot(
    traced: Sequence[TracedExchange], title: str = "trace", *, collapse: bool = False
) -> str:
    """Graphviz ``dot`` text of the sequence diagram of ``traced``.

    With ``collapse``, a run of the same command to the same device with the same status
    word is drawn once (``#5–#40 UPDATE RECORD ×36``), and so is a repeated pair
    (``GET CHALLENGE`` then ``WRITE KEY``, 57 times).
    """
    used = {t.device for t in traced}
    participants = [p for p in PARTICIPANTS if p == "terminal" or p in used]
    arrows: list[str] = []
    row = 0
    drawn = _arrows(traced)
    for arrow in _collapsed(drawn) if collapse else drawn:
        row += 1
        arrows.append(f"  terminal{row} -> {arrow.device}{row} [label={quote(arrow.label())}];")
        if arrow.sw is not None:
            row += 1
            info = describe(arrow.sw, None)
            arrows.append(
                f"  {arrow.device}{row} -> terminal{row} "
                f"[style=dashed, label={quote(info.hex)}, tooltip={quote(info.en)}];"
            )
    last = row + 1
    out = [
        f"digraph {quote(title)} {{",
        "  rankdir=TB; newrank=true; nodesep=2.2; ranksep=0.18;",
        '  node [fontname="sans-serif", fontsize=10];',
        '  edge [fontname="sans-serif", fontsize=9];',
    ]
    out += [
        f'  {p}0 [shape=box, style=filled, fillcolor="#cfe2f3", label={quote(p)}];'
        for p in participants
    ]
    out.append('  node [shape=point, width=0.01, label=""];')
    for p in participants:
        out.append(
            "  "
            + " -> ".join(f"{p}{i}" for i in range(last + 1))
            + " [arrowhead=none, style=dotted, weight=100];"
        )
    for i in range(last + 1):
        out.append(f"  {{ rank=same; {' '.join(f'{p}{i};' for p in participants)} }}")
        out.append("  " + " -> ".join(f"{p}{i}" for p in participants) + " [style=invis];")
    out += arrows
    out.append("}")
    return "\n".join(out) + "\n"
