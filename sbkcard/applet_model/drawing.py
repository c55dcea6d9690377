"""Pictures in Graphviz ``dot``: the card's file tree drawn from its declaration
(Part 3 §5; S2 tables 3–8), and dot text rendered to SVG.

:func:`tree_dot` writes Graphviz ``dot`` text of a :class:`~sbkcard.applet_model.tree.Tree`:
MF → SSSE → DFxx → EFxx, each EF labelled with its structure, size and read/write
conditions.  The documentation draws the national tree with it at build time, so the
picture cannot drift from the declaration.  :func:`render_svg` runs Graphviz's ``dot``
(Debian package ``graphviz``).
"""

from __future__ import annotations

import shutil
import subprocess

from sbkcard.applet_model.tree import DF, EF, Category, Structure, Tree
from sbkcard.errors import SbkcardError

__all__ = ["quote", "render_svg", "tree_dot"]


def quote(text: str) -> str:
    """``text`` as a dot double-quoted string (``\\n`` stays a centred line break)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _size(ef: EF) -> str:
    if ef.structure.fixed:
        return f"{ef.records} × {ef.record_length} B"
    if ef.structure is Structure.PURSE:
        return "COS internal"
    return f"{ef.size} B"


def _ef_label(ef: EF) -> str:
    sfi = f" SFI {ef.sfi:02X}" if ef.sfi is not None and ef.fid is not None else ""
    return (
        f"{ef.name}{sfi}\n{ef.zh}\n{ef.en}\n{ef.structure.value}, {_size(ef)}\n"
        f"read: {ef.read} · write: {ef.write}"
    )


def _df_label(df: DF) -> str:
    return f"{df.name}\n{df.label}\n{df.en}\nblock: {df.block}"


def tree_dot(tree: Tree) -> str:
    """Graphviz ``dot`` text of ``tree``: one node per DF and EF, named by its path."""
    out = [
        f"digraph {quote('card tree ' + tree.version)} {{",
        "  rankdir=LR;",
        '  node [fontname="sans-serif", fontsize=10];',
        "  edge [arrowhead=none];",
        '  MF [shape=folder, style=filled, fillcolor="#dddddd", label="MF\\n3F00"];',
    ]
    for path, decl in tree.paths.items():
        if isinstance(decl, DF):
            shape, fill, label = "folder", "#cfe2f3", _df_label(decl)
        else:
            shape, fill, label = "note", "#fff2cc", _ef_label(decl)
            if decl.category is not Category.ENABLED:
                label += f"\n({decl.category.value})"
        out.append(
            f"  {quote(path)} [shape={shape}, style=filled, fillcolor={quote(fill)}, "
            f"label={quote(label)}];"
        )
        parent = path.rpartition("/")[0] or "MF"
        out.append(f"  {quote(parent)} -> {quote(path)};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_svg(dot_text: str) -> str:
    """``dot_text`` rendered as SVG by Graphviz's ``dot`` (an error if it is missing or fails)."""
    program = shutil.which("dot")
    if program is None:
        raise SbkcardError("Graphviz's dot is not installed (Debian package graphviz)")
    done = subprocess.run(
        [program, "-Tsvg"], input=dot_text, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SbkcardError(f"dot -Tsvg failed: {done.stderr.strip() or done.returncode}")
    return done.stdout
