"""Shared test configuration (keep it small; fixtures belong next to their tests).

The PC/SC end-to-end tests run in CI, never skip: a missing pcscd or vpcd is an error
here (the ``sbk_pcsc_required`` fixture of :mod:`sbkcard.pytest_plugin`).

Hypothesis runs derandomized by default, so that CI is repeatable; explore with
``pytest --hypothesis-profile=explore`` (random seeds, more examples).
"""

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def sbk_pcsc_required() -> bool:
    return True
