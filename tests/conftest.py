"""Shared test configuration (keep it small; fixtures belong next to their tests).

The PC/SC end-to-end tests run in CI, never skip: a missing pcscd or vpcd is an error
here (the ``sbk_pcsc_required`` fixture of :mod:`sbkcard.pytest_plugin`).

The registry and hotlist tests run against SQLite and PostgreSQL (the ``database``
fixture); the PostgreSQL server is a throwaway cluster started once per session (and per
xdist worker), never skipped: a server that cannot start is an error.

Hypothesis runs derandomized by default, so that CI is repeatable; explore with
``pytest --hypothesis-profile=explore`` (random seeds, more examples).
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from sbkcard.throwaway_postgres import PostgresServer, PostgresUnavailable

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def sbk_pcsc_required() -> bool:
    return True


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this session (a fresh cluster on a Unix socket)."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start the PostgreSQL test server: {exc}", pytrace=False)
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Where a test keeps its database called NAME: an SQLite file in ``tmp_path``, or
    (every NAME alike) a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / f"{name}.db")
    url = request.getfixturevalue("postgres").new_database()
    return lambda _name: str(url)
