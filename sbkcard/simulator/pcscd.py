"""A private pcscd whose two readers are vpcd slots (docs: "PC/SC and vpcd").

Tests, benchmarks and the pytest plugin put simulated cards behind a real PC/SC stack
with :class:`PcscdStack`: it writes a reader configuration for vpcd on a pair of free TCP
ports (slot 0 on ``port``, slot 1 on ``port + 1``), starts ``pcscd -f -c DIR`` in its own
session, waits until ``ss -ltn`` shows the port (never by connecting to it: vpcd would
take the probe for a card) and stops it by its pid.

Where the machine allows a private mount namespace (root, ``unshare``), the daemon gets
its own ``/run/pcscd`` bind-mounted from the stack's directory, so several stacks (other
test sessions, a system pcscd) live side by side; clients find it through
``PCSCLITE_CSOCK_NAME`` (:meth:`PcscdStack.activate` sets it for this process; libpcsclite
reads it once, at the first PC/SC call).  Elsewhere the stack uses the system socket,
takes a lock file for its lifetime, and refuses to start if a pcscd it did not start is
already running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO

from sbkcard.errors import SbkcardError

__all__ = ["FRIENDLY_NAME", "PcscdStack", "PcscdStackError", "bound_to_caller"]

FRIENDLY_NAME = "Virtual PCD"
"""The readers are named ``Virtual PCD 00 00`` and ``Virtual PCD 00 01``, as with the
system configuration of vsmartcard-vpcd."""

_VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
_SYSTEM_RUN_DIR = Path("/run/pcscd")
_LOCK_FILE = Path(tempfile.gettempdir()) / "sbkcard-pcscd.lock"
_PORT_RANGE = range(36100, 39998, 2)
_active_socket: Path | None = None


class PcscdStackError(SbkcardError):
    """pcscd or the vpcd driver could not be started (missing package, port, permissions)."""


def bound_to_caller(argv: list[str]) -> list[str]:
    """``argv`` run so that it gets SIGTERM when the thread starting it dies (Linux's
    parent-death signal, through util-linux's ``setpriv``): a test runner killed by a
    signal leaves no daemon or simulated card behind.  Unchanged without ``setpriv``."""
    if shutil.which("setpriv") is None:
        return argv
    return ["setpriv", "--pdeathsig", "TERM", *argv]


def _listening_ports() -> dict[int, int | None]:
    """TCP ports in LISTEN state here, each with the pid that owns it (when visible)."""
    out = subprocess.run(
        ["ss", "-Htlnp"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    ports: dict[int, int | None] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = int(fields[3].rpartition(":")[2])
        pid: int | None = None
        if "pid=" in line:
            pid = int(line.split("pid=", 1)[1].split(",", 1)[0])
        ports[port] = pid
    return ports


def _used_ports() -> set[int]:
    """Local TCP ports in use in any state (``ss -tan``)."""
    out = subprocess.run(
        ["ss", "-Htan"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    used = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            used.add(int(fields[3].rpartition(":")[2]))
    return used


@cache
def _private_namespace_works() -> bool:
    """Whether ``unshare --mount`` can bind a directory over ``/run/pcscd`` here."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        _SYSTEM_RUN_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sbkcard-ns-") as probe:
            result = subprocess.run(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "mount",
                    "--bind",
                    probe,
                    str(_SYSTEM_RUN_DIR),
                ],
                capture_output=True,
                timeout=10,
            )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if the daemon is still there after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PcscdStack:
    """A pcscd of our own with one vpcd reader of two slots (card, PSAM).

    ``port`` is slot 0's port (slot 1 listens on ``port + 1``); by default a free pair is
    chosen.  ``private=None`` uses a private mount namespace when the machine allows it.
    ``pairs=N`` adds readers: pair *k* has slots ``2k`` and ``2k + 1`` on the ports that
    follow, each pair its own copy of the driver (its connection table is per library).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int | None = None,
        private: bool | None = None,
        pairs: int = 1,
    ) -> None:
        if shutil.which("pcscd") is None or not _VPCD_DRIVER.exists():
            raise PcscdStackError(
                "pcscd and the vpcd driver are needed: apt-get install pcscd vsmartcard-vpcd"
            )
        self._own_dir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="sbkcard-pcscd-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.private = _private_namespace_works() if private is None else private
        self._fixed_port = port
        self.pairs = pairs
        self.port = port if port is not None else 0
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: weakref.finalize[[subprocess.Popen[bytes], float], PcscdStack] | None = None
        self._lock: IO[bytes] | None = None

    def __repr__(self) -> str:
        mode = "private" if self.private else "system socket"
        return f"PcscdStack(port={self.port}, pid={self.pid}, {mode})"

    # -- what clients need ------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        """The daemon's client socket (``/run/pcscd/pcscd.comm`` unless private)."""
        run_dir = self.workdir / "run" if self.private else _SYSTEM_RUN_DIR
        return run_dir / "pcscd.comm"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables a PC/SC client process needs to reach this daemon."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)} if self.private else {}

    def activate(self) -> None:
        """Point this process's PC/SC clients (pyscard) at this daemon.

        libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once, at the process's first PC/SC
        call: activate before pyscard is used, and keep to one socket path per process
        (a stack restarted, or a new stack on the same ``workdir``, keeps the path).
        """
        global _active_socket
        path = self.socket_path
        if _active_socket is not None and _active_socket != path:
            raise PcscdStackError(
                f"this process already talks to the pcscd at {_active_socket}; libpcsclite "
                f"cannot switch to {path} (use one stack, or one workdir, per process)"
            )
        _active_socket = path
        if self.private:
            os.environ["PCSCLITE_CSOCK_NAME"] = str(path)
        else:
            os.environ.pop("PCSCLITE_CSOCK_NAME", None)

    def slot_port(self, slot: int) -> int:
        """The TCP port vpcd listens on for ``slot`` (0 or 1; up to ``2 * pairs - 1``)."""
        if not 0 <= slot < 2 * self.pairs:
            raise ValueError(f"the stack has slots 0 to {2 * self.pairs - 1}, not {slot}")
        return self.port + slot

    @staticmethod
    def reader_name(slot: int) -> str:
        """The PC/SC reader name of ``slot`` (``Virtual PCD 00 00`` for slot 0; the second
        pair's are ``Virtual PCD 2 00 00`` and ``… 00 01``)."""
        pair, index = divmod(slot, 2)
        name = FRIENDLY_NAME if pair == 0 else f"{FRIENDLY_NAME} {pair + 1}"
        return f"{name} 00 {index:02X}"

    @property
    def log_path(self) -> Path:
        """pcscd's stderr (its log)."""
        return self.workdir / "pcscd.log"

    @property
    def running(self) -> bool:
        """Whether the daemon we started is still alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle -------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> PcscdStack:
        """Start pcscd and wait until vpcd listens on both ports; returns ``self``.

        The daemon stops with this object, at interpreter exit, or when the calling
        thread dies (:func:`bound_to_caller`): start it from a thread that lives as long.
        """
        if self.running:
            return self
        if not self.private:
            self._take_system_socket()
        for _ in range(1 if self._fixed_port is not None else 5):
            if self._fixed_port is None:
                self.port = self._free_ports(2 * self.pairs)
            if self._launch(timeout):
                return self
        self._release_lock()
        raise PcscdStackError(
            f"pcscd did not listen on port {self.port} within {timeout} s; "
            f"see {self.log_path}:\n{self._log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the daemon we started (by its pid)."""
        self._stop_process(timeout)
        self._release_lock()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same ports (cards reconnect by themselves)."""
        self.stop()
        self._fixed_port = self.port
        self.start(timeout)

    def close(self) -> None:
        """Stop the daemon and remove the stack's own directory."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PcscdStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def wait_for_card(self, slot: int, timeout: float = 10.0) -> bytes:
        """Wait until pyscard can connect to the card in ``slot``; returns its ATR."""
        from smartcard import scard  # pyscard is an optional dependency

        reader = self.reader_name(slot)
        deadline = time.monotonic() + timeout
        last = "pcscd not reachable"
        while time.monotonic() < deadline:
            rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if rc == scard.SCARD_S_SUCCESS:
                try:
                    rc, card, _ = scard.SCardConnect(
                        ctx,
                        reader,
                        scard.SCARD_SHARE_SHARED,
                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                    )
                    if rc == scard.SCARD_S_SUCCESS:
                        rc, _, _, _, atr = scard.SCardStatus(card)
                        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
                        if rc == scard.SCARD_S_SUCCESS:
                            return bytes(atr)
                    last = scard.SCardGetErrorMessage(rc)
                finally:
                    scard.SCardReleaseContext(ctx)
            else:
                last = scard.SCardGetErrorMessage(rc)
            time.sleep(0.05)
        raise PcscdStackError(f"no card in {reader!r} after {timeout} s ({last.strip()})")

    def wait_for_removal(self, slot: int, timeout: float = 10.0) -> None:
        """Wait until pcscd reports ``slot`` empty."""
        from smartcard import scard

        reader = self.reader_name(slot)
        rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if rc != scard.SCARD_S_SUCCESS:
            raise PcscdStackError(f"pcscd not reachable: {scard.SCardGetErrorMessage(rc)}")
        try:
            deadline = time.monotonic() + timeout
            state = scard.SCARD_STATE_UNAWARE
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PcscdStackError(f"the card stayed in {reader!r} for {timeout} s")
                rc, states = scard.SCardGetStatusChange(
                    ctx, int(min(left, 1.0) * 1000), [(reader, state)]
                )
                if rc == scard.SCARD_S_SUCCESS:
                    _, state, _ = states[0]
                    if state & scard.SCARD_STATE_EMPTY:
                        return
                elif rc != scard.SCARD_E_TIMEOUT:
                    raise PcscdStackError(
                        f"watching {reader!r} failed: {scard.SCardGetErrorMessage(rc)}"
                    )
        finally:
            scard.SCardReleaseContext(ctx)

    # -- internals --------------------------------------------------------------------

    def _write_config(self) -> Path:
        conf = self.workdir / "reader.conf.d"
        conf.mkdir(exist_ok=True)
        for pair in range(self.pairs):
            port = self.port + 2 * pair
            driver = _VPCD_DRIVER
            name = FRIENDLY_NAME
            if pair:
                driver = self.workdir / f"libifdvpcd-{pair}.so"
                shutil.copyfile(_VPCD_DRIVER, driver)
                name = f"{FRIENDLY_NAME} {pair + 1}"
            (conf / f"vpcd{pair or ''}").write_text(
                f'FRIENDLYNAME "{name}"\n'
                f"DEVICENAME   /dev/null:{port}\n"
                f"LIBPATH      {driver}\n"
                f"CHANNELID    {port}\n"
            )
        return conf

    def _launch(self, timeout: float) -> bool:
        """Start pcscd on ``self.port``; whether it came up listening on both ports."""
        conf = self._write_config()
        if self.private:
            run_dir = self.socket_path.parent
            run_dir.mkdir(exist_ok=True)
            for stale in run_dir.iterdir():
                stale.unlink()
            script = f'mount --bind "{run_dir}" {_SYSTEM_RUN_DIR} && exec pcscd -f -c "{conf}"'
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        else:
            argv = ["pcscd", "-f", "-c", str(conf)]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                bound_to_caller(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        # A stack dropped or left running when the interpreter exits takes pcscd with it.
        self._reaper = weakref.finalize(self, _terminate, self._proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            owners = _listening_ports()
            ours = all(owners.get(self.port + slot) == self.pid for slot in range(2 * self.pairs))
            if ours and self.socket_path.exists():
                return True
            time.sleep(0.02)
        self._stop_process(5.0)
        return False

    def _stop_process(self, timeout: float) -> None:
        """Stop the daemon by its pid (the lock, if any, stays)."""
        proc, self._proc, self.pid = self._proc, None, None
        if self._reaper is not None:
            self._reaper.detach()
            self._reaper = None
        if proc is not None:
            _terminate(proc, timeout)

    @staticmethod
    def _free_ports(count: int) -> int:
        used = _used_ports()
        candidates = [p for p in _PORT_RANGE if not any(p + i in used for i in range(count))]
        if not candidates:
            raise PcscdStackError("no free pair of TCP ports for vpcd in 36100–39999")
        return random.choice(candidates)

    def _take_system_socket(self) -> None:
        """Lock the system socket for this stack; refuse if a foreign pcscd runs."""
        lock = _LOCK_FILE.open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise PcscdStackError(
                f"another test session holds {_LOCK_FILE} (its pcscd uses the system socket, "
                "and this machine allows no private mount namespace)"
            ) from None
        pid_file = _SYSTEM_RUN_DIR / "pcscd.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            if _alive(pid):
                lock.close()
                raise PcscdStackError(
                    f"a pcscd not started by sbkcard is running (pid {pid}) and this machine "
                    "allows no private mount namespace: stop that pcscd, or run as root "
                    "where unshare works"
                )
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
