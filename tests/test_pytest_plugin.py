"""The pytest plugin, tested as a user meets it: test files run by ``pytester``.

Each test writes a small test module of the kind a terminal maker would write (a fixture
argument and nothing else), runs pytest on it, and checks the outcome.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from sbkcard.applet_model.user_card.personalise import DEMO_PIN
from sbkcard.cli import main
from sbkcard.pytest_plugin import DEMO_PIN as PLUGIN_DEMO_PIN
from sbkcard.pytest_plugin import make_card, make_psam
from sbkcard.simulator import load_image
from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.operations import pki
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import ReaderSession

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "70-pcsc-and-pytest.rst"


def guide_test_files() -> dict[str, str]:
    """The tutorial's example test modules: Python blocks whose first line names the file."""
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", GUIDE.read_text())
    files = {}
    for block in blocks:
        source = textwrap.dedent(block)
        first = source.splitlines()[0]
        if first.startswith("# test_") and first.endswith(".py"):
            files[first[2:-3]] = source
    return files


@pytest.mark.pcsc
def test_the_tutorial_examples_pass(pytester: pytest.Pytester) -> None:
    files = guide_test_files()
    assert set(files) == {"test_counter", "test_generations", "test_my_reader_code"}
    pytester.makepyfile(**files)
    pytester.runpytest().assert_outcomes(passed=6)


def test_a_terminal_in_one_argument(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from sbkcard.terminal.national.interface import NationalInterface

        def test_read(sbk_terminal):
            code, text = NationalInterface(sbk_terminal).iReadCardBas(1)
            assert code == 0
            assert text.split("|")[1:3] == ["410102199003071230", "A00000011"]
            assert text.split("|")[6] == "3.00"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_cards_per_profile_and_from_an_applicant(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from sbkcard.terminal.national.interface import NationalInterface

        APPLICANT = {  # a record of an applicant file (sbkcard.issuance.applicants)
            "ssn": "11010519491231002X", "name": "李四", "gender": "2", "ethnicity": "01",
            "birthplace": "110105", "birth_date": "1949-12-31", "region": "410100",
        }

        @pytest.mark.parametrize("sbk_card", [1, 2, 3], indirect=True)
        def test_profiles(sbk_card, sbk_terminal):
            assert sbk_card.profile in (1, 2, 3)
            code, text = NationalInterface(sbk_terminal).iReadCardBas(1)
            assert text.split("|")[6] == f"{sbk_card.profile}.00"

        @pytest.mark.parametrize(
            "sbk_card", [{"profile": p, "applicant": APPLICANT} for p in (1, 2)], indirect=True
        )
        def test_applicant(sbk_card, sbk_terminal):
            code, text = NationalInterface(sbk_terminal).iReadCardBas(1)
            assert code == 0, text
            fields = text.split("|")
            assert fields[1] == "11010519491231002X"
            assert fields[4] == "李四"
            assert fields[0] == "410100"

        def test_generations(sbk_card_2, sbk_card_3, sbk_psam, sbk_card_factory):
            assert (sbk_card_2.profile, sbk_card_3.profile) == (2, 3)
            assert sbk_psam.kind == "psam"
            assert sbk_card_factory(2).atr == sbk_card_2.atr
        """
    )
    pytester.runpytest().assert_outcomes(passed=6)


def test_a_bad_card_parameter_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("sbk_card", [{"profil": 2}, 4, "x"], indirect=True)
        def test_card(sbk_card):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*unknown key(s) profil*", "*profile must be one of*"])


@pytest.mark.pcsc
def test_a_pcsc_reader_in_one_argument(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import subprocess
        from smartcard.System import readers
        from sbkcard.terminal.national.interface import NationalInterface
        from sbkcard.terminal.terminal import Terminal

        SELECT_SSSE = list(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))

        def test_my_pcsc_code(sbk_pcsc_reader):
            reader = next(r for r in readers() if str(r) == sbk_pcsc_reader.name)
            connection = reader.createConnection()
            connection.connect()
            assert bytes(connection.getATR()) == sbk_pcsc_reader.card.atr
            assert connection.transmit(SELECT_SSSE)[1:] == (0x61, 0x1E)
            sbk_pcsc_reader.remove()
            sbk_pcsc_reader.insert()
            connection.reconnect()
            assert connection.transmit(SELECT_SSSE)[1:] == (0x61, 0x1E)

        def test_another_program(sbk_pcsc_reader):
            out = subprocess.run(
                ["opensc-tool", "--reader", "1", "--atr"],
                capture_output=True, text=True, check=True,
                env={"PATH": os.environ["PATH"], **sbk_pcsc_reader.env},  # a clean env
            ).stdout
            assert bytes.fromhex(out.replace(":", "")) == sbk_pcsc_reader.psam.atr

        def test_the_terminal_over_pcsc(sbk_pcsc_reader):
            counter = Terminal(
                card_reader=sbk_pcsc_reader.transport(),
                psam_reader=sbk_pcsc_reader.psam_transport(),
            )
            code, text = NationalInterface(counter).iReadCardBas(1)
            assert code == 0, text
            assert text.split("|")[4] == "张三"
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


@pytest.mark.pcsc
def test_missing_pcsc_stack_skips_or_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_needs_a_reader(sbk_pcsc_reader):\n    pass\n")
    monkeypatch.setenv("PATH", os.fspath(pytester.path))  # no pcscd on the PATH
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no PC/SC stack: pcscd and the vpcd driver are needed*"])
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def sbk_pcsc_required():
            return True
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the PC/SC stack is required here*"])


def test_the_demo_pin_is_the_cards() -> None:
    assert PLUGIN_DEMO_PIN == DEMO_PIN


def test_the_third_generation_card_is_the_command_lines(tmp_path: Path) -> None:
    """``make_card(3)`` is, byte for byte, the card ``sbkcard card new --profile 3`` makes."""
    assert main(["card", "new", "--profile", "3", "--out", str(tmp_path / "c.json")]) == 0
    made, cli = make_card(3), load_image(tmp_path / "c.json")
    assert (made.kind, made.profile, made.atr) == (cli.kind, cli.profile, cli.atr)
    assert made.snapshot().storage == cli.snapshot().storage
    assert any(key.startswith("pki:sk:") for key in made.snapshot().storage)


def test_each_third_generation_card_is_its_own() -> None:
    first, second = make_card(3), make_card(3)
    session = ReaderSession(first)
    session.power_on()
    pki.select_application(session, pki.PROFILE)
    pki.change_user_pin(session, pki.PROFILE, DEMO_PIN, "975310")
    assert NationalInterface(Terminal(card_reader=second)).PKI_SignData(DEMO_PIN, "x", 1)[0] == 0
    assert NationalInterface(Terminal(card_reader=first)).PKI_SignData(DEMO_PIN, "x", 1)[0] == -51


def test_an_applicants_third_generation_card_signs_in_their_name(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from sbkcard.keys.certificates import certificate_subject, verify_certificate
        from sbkcard.issuance.certificates import demo_ca
        from sbkcard.terminal.national.interface import NationalInterface
        from sbkcard.terminal.operations import pki
        from sbkcard.terminal.transports.transport import ReaderSession

        APPLICANT = {
            "ssn": "11010519491231002X", "name": "李四", "gender": "2", "ethnicity": "01",
            "birthplace": "110105", "birth_date": "1949-12-31", "region": "110100",
        }

        @pytest.mark.parametrize(
            "sbk_card", [{"applicant": APPLICANT, "pin": "975310"}], indirect=True
        )
        def test_sign(sbk_card, sbk_terminal):
            national = NationalInterface(sbk_terminal)
            code, signature = national.PKI_SignData("975310", "处方", 1)
            assert code == 0, signature
            assert national.PKI_VerifySign("", "", "处方", signature[:-1], 1) == (0, "1|")
            session = ReaderSession(sbk_card)
            session.power_on()
            pki.select_application(session, pki.PROFILE)
            certificate = pki.read_certificate(session, pki.PROFILE)
            assert certificate_subject(certificate).startswith("Common Name: 李四 A")
            assert verify_certificate(certificate, demo_ca().public)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_factories() -> None:
    assert make_card(2).profile == 2
    assert make_psam().kind == "psam"
    with pytest.raises(ValueError, match="profile must be one of"):
        make_card(4)
