"""The terminal package's rooms: public names from the package, each loaded on first use."""

import subprocess
import sys

import sbkcard.terminal as terminal


def test_every_public_name_resolves_to_its_home() -> None:
    for name in terminal.__all__:
        value = getattr(terminal, name)
        assert value.__module__.startswith("sbkcard.terminal.")
        assert value.__name__ == name


def test_importing_a_transport_does_not_load_the_national_interface() -> None:
    code = (
        "import sys, sbkcard.terminal.transports.transport;"
        "print('sbkcard.terminal.national.interface' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        terminal.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
