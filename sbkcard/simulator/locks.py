"""One process at a time on a card image, or on a vpcd slot: advisory file locks.

A card image served by ``sbkcard sim`` changes with every committed command; another
process writing it at the same time (``sbkcard card send``, a second ``sim``) would be
overwritten later, or overwrite it: :func:`image_lock` (on ``IMAGE.lock``) is held for as
long as a process works on an image.  A vpcd slot takes one card: a second ``sim`` on the
same port would wait in vpcd's queue serving nothing: :func:`slot_lock` (in the
temporary directory) is held while a ``sim`` serves the slot.

A command that rewrites an image (``sbkcard pin``, ``purse``, ``card new --force``,
``demo --workdir`` …) holds the same lock while it works (:func:`images_locked`).

A second process is refused at once with :class:`LockedError`, which names the holder.
The lock is the operating system's (``flock`` on POSIX, ``msvcrt``'s byte-range lock on
Windows): it goes away with its process, even one killed by SIGKILL, so there is never a
stale lock to clean.  The lock file itself stays (removing it would race with the next
locker) and holds the holder's description.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType

from sbkcard.locking import try_lock
from sbkcard.simulator.errors import ImageError, SimulatorError

__all__ = ["FileLock", "LockedError", "image_lock", "images_locked", "slot_lock"]

LOCK_SUFFIX = ".lock"


class LockedError(SimulatorError):
    """An image or a slot is in use by another process (named in the message)."""


class FileLock:
    """Exclusive use of ``subject`` (as the messages name it) through the lock file ``path``,
    by this process as ``holder`` (e.g. ``"sbkcard sim"``); a context manager, or
    :meth:`acquire` and :meth:`release`.  ``advice`` ends the message of a refusal."""

    def __init__(self, path: Path, subject: str, holder: str, advice: str) -> None:
        self.path = path
        self.subject = subject
        self.holder = holder
        self.advice = advice
        self._fd: int | None = None

    def acquire(self) -> FileLock:
        """Take the lock, or raise :class:`LockedError` at once if another process has it."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise SimulatorError(
                f"{self.subject}: cannot lock {self.path} ({exc.strerror or exc})"
            ) from exc
        if not try_lock(fd):
            other = _read_holder(fd)
            os.close(fd)
            raise LockedError(
                f"{self.subject}: in use by another process ({other or 'unknown'}); {self.advice}"
            )
        os.lseek(fd, 1, os.SEEK_SET)  # byte 0 is the one Windows locks: the text after it
        os.ftruncate(fd, 1)
        os.write(fd, f"{self.holder}, pid {os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def image_lock(image: str | os.PathLike[str], holder: str) -> FileLock:
    """The lock on the card image ``image`` (``IMAGE.lock`` beside it; the image must exist)."""
    path = Path(image)
    if not path.is_file():
        raise ImageError(str(path), "cannot read (no such file)")
    return FileLock(
        path.with_name(path.name + LOCK_SUFFIX),
        f"card image {path}",
        holder,
        "stop it first (SIGTERM saves the image), then try again",
    )


@contextmanager
def images_locked(images: Iterable[str | os.PathLike[str]], holder: str) -> Iterator[None]:
    """Hold the lock of each card image of ``images`` that exists, for a command that
    writes them; an image not written yet needs none (``sim`` serves existing images only).
    """
    with ExitStack() as held:
        for image in images:
            if Path(image).is_file():
                held.enter_context(image_lock(image, holder))
        yield


def slot_lock(host: str, port: int, holder: str) -> FileLock:
    """The lock on vpcd's slot at ``host:port``, for the processes of this machine."""
    name = f"sbkcard-vpcd-{host.replace(':', '_')}-{port}{LOCK_SUFFIX}"
    return FileLock(
        Path(tempfile.gettempdir()) / name,
        f"vpcd slot {host}:{port}",
        holder,
        "a slot serves one card: stop that process or use another --port",
    )


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""
