"""The known answers in the docstrings of sbkcard.keys run (pyemv's ``kd.py`` style)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sbkcard.keys

MODULES = sorted(m.name for m in pkgutil.iter_modules(sbkcard.keys.__path__, "sbkcard.keys."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_give_their_known_answers(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_known_answers_are_examples() -> None:
    attempted = sum(
        doctest.testmod(importlib.import_module(name), report=False).attempted for name in MODULES
    )
    assert attempted >= 15
