"""Shared test configuration (keep it small; fixtures belong next to their tests).

The PC/SC end-to-end tests run in CI, never skip: a missing pcscd or vpcd is an error
here (the ``sbk_pcsc_required`` fixture of :mod:`sbkcard.pytest_plugin`).
"""

import pytest


@pytest.fixture(scope="session")
def sbk_pcsc_required() -> bool:
    return True
