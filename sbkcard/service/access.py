"""Who may call the counter service: the Origin allowlist, client tokens, rate limits.

A browser page sends its ``Origin``; only the service's own page and the origins of the
allowlist reach a card (any other gets 403).  Programs that send no ``Origin`` (a HIS
backend, ``curl``) are let through on loopback.  When tokens are configured every client
shows one (``Authorization: Bearer …``, or ``?token=`` where a browser cannot set headers).
Each client has a token bucket of ``rate`` calls per second, ``burst`` at once.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class ClientAccess:
    """The checks of the module docstring, sans-IO (the server passes headers in)."""

    origins: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    rate: float = 50.0
    burst: int = 100
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def allow_own(self, origins: Iterable[str]) -> None:
        """Allow the service's own origins (its counter page)."""
        self.origins = self.origins | frozenset(origins)

    def origin_allowed(self, origin: str | None) -> bool:
        """No ``Origin`` (not a browser) or one on the allowlist."""
        return origin is None or origin.rstrip("/") in self.origins

    def token_ok(self, presented: str | None) -> bool:
        """A valid token, or none needed."""
        if not self.tokens:
            return True
        if presented is None:
            return False
        return any(hmac.compare_digest(presented.encode(), t.encode()) for t in self.tokens)

    def take(self, client: str) -> bool:
        """One call for ``client`` if its bucket has one (refill ``rate`` per second)."""
        now = self.clock()
        level, last = self._buckets.get(client, (float(self.burst), now))
        level = min(float(self.burst), level + (now - last) * self.rate)
        if level < 1.0:
            self._buckets[client] = (level, now)
            return False
        self._buckets[client] = (level - 1.0, now)
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        return True


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if header is None or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :].strip() or None
