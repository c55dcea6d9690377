"""The contract between an applet and the non-volatile memory that holds its state.

An applet keeps *all* persistent state (files, keys, PINs, counters, life cycle) in a
:class:`Storage`: a flat map from short string keys (``"SSSE/EF05"``, ``"ctr/PIN"``) to
bytes.  Writes happen only inside :meth:`Storage.transaction`; the writes of one
transaction become visible together when the ``with`` block ends without an exception,
and not at all otherwise.  The simulator's journaled NVM implements this with a tear at
any write step; :class:`MemoryStorage` is the plain in-memory form for pure tests.

A power cut raises :class:`PowerLoss`.  It derives from :class:`BaseException` on
purpose: an applet that answers ``6F00`` to unexpected ``Exception`` s must never
swallow it, because after a power cut there is no one to answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class PowerLoss(BaseException):
    """The card lost power in the middle of an NVM write (raised by fault injection)."""


class Transaction(Protocol):
    """Writes staged inside one :meth:`Storage.transaction`."""

    def read(self, key: str) -> bytes | None:
        """The value as this transaction would leave it (staged writes included)."""
        ...

    def write(self, key: str, value: bytes) -> None:
        """Stage ``key = value``."""
        ...

    def delete(self, key: str) -> None:
        """Stage the removal of ``key`` (no error if absent)."""
        ...


class Storage(Protocol):
    """Persistent key → bytes memory with atomic transactions."""

    def read(self, key: str) -> bytes | None:
        """The committed value of ``key``, or ``None``."""
        ...

    def keys(self, prefix: str = "") -> list[str]:
        """Committed keys starting with ``prefix``, sorted."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A context manager yielding a :class:`Transaction`; commits on normal exit."""
        ...


class _Staged:
    """A :class:`Transaction` over a committed map, staging writes in a dict."""

    def __init__(self, committed: Mapping[str, bytes]) -> None:
        self._committed = committed
        self.staged: dict[str, bytes | None] = {}

    def read(self, key: str) -> bytes | None:
        if key in self.staged:
            return self.staged[key]
        return self._committed.get(key)

    def write(self, key: str, value: bytes) -> None:
        self.staged[key] = bytes(value)

    def delete(self, key: str) -> None:
        self.staged[key] = None


class MemoryStorage:
    """In-memory :class:`Storage` without a journal, for pure tests of applets."""

    def __init__(self, initial: Mapping[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(initial or {})

    def read(self, key: str) -> bytes | None:
        return self.data.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        staged = _Staged(self.data)
        yield staged
        for key, value in staged.staged.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value
