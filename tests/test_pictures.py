"""Pictures drawn from the code: the file tree's dot text, trace sequence diagrams and
``sbkcard trace diagram`` (docs/guide/05-pictures.rst)."""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shutil
import sys
from pathlib import Path

import pytest
from terminal_support import psam, terminal, user_card

from sbkcard.applet_model.drawing import render_svg, tree_dot
from sbkcard.applet_model.ssse import Layout, national_tree
from sbkcard.applet_model.traces import read_trace
from sbkcard.applet_model.traces.diagram import sequence_dot
from sbkcard.applet_model.tree import DF
from sbkcard.cli import main
from sbkcard.keys import Algorithm
from sbkcard.terminal import read_basic_info

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDE = DOCS / "guide" / "05-pictures.rst"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def basic_read_trace() -> str:
    """The masked, device-prefixed trace of a basic read through a PSAM."""
    counter = terminal(user_card(3), psam_card=psam())
    with counter.session() as conn:
        read_basic_info(conn, authenticate=True)
    return counter.trace.text()


# -- the file tree ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "algorithm"), [(Layout.V2, Algorithm.DES), (Layout.V3, Algorithm.SM4)]
)
def test_tree_dot_names_every_declared_df_and_ef(layout: Layout, algorithm: Algorithm) -> None:
    tree = national_tree(layout, algorithm)
    dot = tree_dot(tree)
    nodes = dict(re.findall(r'^  "([^"]+)" \[.*label="([^"]*)"\];$', dot, re.MULTILINE))
    assert set(nodes) == set(tree.paths)  # every DF and EF, nothing else
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)";$', dot, re.MULTILINE))
    for path, decl in tree.paths.items():
        assert (path.rpartition("/")[0] or "MF", path) in edges
        label = nodes[path].split("\\n")
        if isinstance(decl, DF):
            assert label[:3] == [decl.name, decl.label, decl.en]
        else:
            assert label[1:3] == [decl.zh, decl.en]
            assert f"read: {decl.read} · write: {decl.write}" in label
    ef06 = nodes["SSSE/EF06"].split("\\n")
    assert ef06[0] == "EF06 SFI 06"
    assert ef06[-1] == ("read: RKSSSE · write: UKSSSE" if layout is Layout.V3 else ef06[-1])


def test_tree_renders_with_graphviz() -> None:
    svg = render_svg(tree_dot(national_tree(Layout.V3, Algorithm.SM4)))
    assert svg.lstrip().startswith("<?xml") and "持卡人的基本信息文件" in svg


# -- sequence diagrams -----------------------------------------------------------------------


def test_basic_read_diagram_names_commands_participants_and_sws() -> None:
    traced = read_trace(basic_read_trace())
    dot = sequence_dot(traced, title="basic read")
    heads = re.findall(r'^  (\w+)0 \[shape=box.*label="(\w+)"\];$', dot, re.MULTILINE)
    assert heads == [("card", "card"), ("terminal", "terminal"), ("psam", "psam")]
    commands = re.findall(r'^  terminal\d+ -> (\w+?)\d+ \[label="#(\d+) ([^"]*)"\];$', dot, re.M)
    answers = re.findall(r'^  (\w+?)\d+ -> terminal\d+ \[style=dashed, label="(\w+)"', dot, re.M)
    assert [int(n) for _, n, _ in commands] == list(range(1, len(traced) + 1))
    assert [device for device, _, _ in commands] == [t.device for t in traced]
    assert commands[0] == ("card", "1", "SELECT")
    assert ("card", "3", "READ RECORD SSSE/EF05") in commands
    assert any(d == "psam" and text.endswith("DELIVERY SESSION KEY") for d, _, text in commands)
    assert any(text.endswith("READ RECORD SSSE/EF06") for _, _, text in commands)
    assert answers[:2] == [("card", "611E"), ("card", "9000")]
    assert len(answers) == len(traced)  # every exchange got its status word back


def test_card_only_trace_has_no_psam_lifeline_and_collapses_runs() -> None:
    trace = (
        "".join(f">> 00 B2 0{n} 2C Le=00\n<< 6A83\n" for n in range(1, 6))
        + ">> 00 20 00 00 Lc=03 123456\n<< 63C2\n"
    )
    traced = read_trace(trace)
    dot = sequence_dot(traced)
    assert "psam0" not in dot and "123456" not in dot
    assert dot.count("READ RECORD") == 5
    collapsed = sequence_dot(traced, collapse=True)
    assert '[label="#1–#5 READ RECORD ×5 SFI 05"]' in collapsed
    assert '[label="#6 VERIFY"]' in collapsed and collapsed.count("6A83") == 1


# -- the command line ------------------------------------------------------------------------


def test_trace_diagram_cli(tmp_path: Path) -> None:
    trace = tmp_path / "read.trace"
    trace.write_text(basic_read_trace(), encoding="utf-8")
    code, out, _ = run_cli("trace", "diagram", str(trace))
    assert code == 0
    assert out == sequence_dot(read_trace(trace.read_text(encoding="utf-8")), title="read.trace")
    code, svg, _ = run_cli("trace", "diagram", str(trace), "--svg")
    assert code == 0 and "<svg" in svg and "READ RECORD SSSE/EF05" in svg


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("garbage\n", "malformed trace line 1"),
        (b"\xff\xfe\n", "not UTF-8"),
        (None, "cannot read"),
    ],
)
def test_trace_diagram_bad_file_exits_1_without_traceback(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "bad.trace"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    code, out, err = run_cli("trace", "diagram", str(path))
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err


def test_trace_diagram_usage_errors_exit_2() -> None:
    assert run_cli("trace", "diagram")[0] == 2
    assert run_cli("trace", "diagram", "x.trace", "--device", "hsm")[0] == 2


def test_svg_without_graphviz_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "t.trace"
    trace.write_text(">> 00 84 00 00 Le=08\n<< 0102030405060708 9000\n", encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    assert shutil.which("dot") is None
    code, out, err = run_cli("trace", "diagram", str(trace), "--svg")
    assert code == 1 and out == "" and "graphviz" in err and "Traceback" not in err


# -- the docs' pictures ----------------------------------------------------------------------


def test_docs_pictures_are_drawn_from_the_flows(tmp_path: Path) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import pictures  # the docs' Sphinx extension
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    pictures.write_pictures(tmp_path)
    drawn = {p.stem: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.dot")}
    assert set(drawn) == {"tree", *pictures.FLOWS}
    assert "EXTERNAL AUTHENTICATE" in drawn["hsm-two-step"] and "psam0" not in drawn["hsm-two-step"]
    assert "PURCHASE" in drawn["purchase"] and "psam0" in drawn["purchase"]
    assert "CREATE FILE" in drawn["personalisation"] and "WRITE KEY" in drawn["personalisation"]
    for name in pictures.FLOWS:
        assert f"/_pictures/{name}.dot" in GUIDE.read_text(encoding="utf-8")


def test_guide_examples() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False)
    assert result.attempted > 0
    assert result.failed == 0
