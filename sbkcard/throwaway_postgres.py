"""A throwaway PostgreSQL server for tests and benchmarks: Debian's ``postgresql``, a new cluster.

``initdb`` makes the cluster in a temporary folder (owned by the ``postgres`` user when
the tests run as root: the server refuses to run as root), ``pg_ctl`` starts it on a
Unix socket only (``listen_addresses=''``), and :meth:`PostgresServer.stop` removes it.
Each test gets a database of its own (:meth:`PostgresServer.new_database`).  Nothing
listens on the network.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_OPTIONS = "-c listen_addresses='' -c max_connections=60"
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
"""For tests: nothing waits for the disk (a benchmark keeps the server durable)."""


class PostgresUnavailable(RuntimeError):
    """The server could not be made or started (the message says why)."""


def _bin_dir() -> Path:
    found = sorted(Path("/").glob(BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    if not found or not (found[-1] / "initdb").exists():
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries in {BIN_GLOB} (install Debian's postgresql: make apt)"
        )
    return found[-1]


class PostgresServer:
    """One cluster in a temporary folder, serving on a socket in that folder; ``durable``
    keeps PostgreSQL's fsync at commit, as a production server does."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="sbk-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._names = itertools.count()
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # run from the cluster's own folder: the caller's may be closed to the postgres user
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )

    def start(self) -> None:
        """Start (or start again) the server and wait until it answers."""
        options = f"-k {self.socket_dir} {SERVER_OPTIONS}"
        if not self.durable:
            options = f"{options} {FAST_OPTIONS}"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """The ``postgresql://`` URL of ``database`` through the socket."""
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        """Stop the server and delete the cluster."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
