"""The command line: every command group registers and ``--help`` works."""

import pytest

from sbkcard.cli import build_parser, main


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "sbkcard" in capsys.readouterr().out


def test_parser_builds() -> None:
    assert build_parser().prog == "sbkcard"
