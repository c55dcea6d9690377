"""The audit log: one JSON line per national call or HSM request, rotated.

Each line has the time (UTC, ISO 8601), the client, the reader, the function, the code,
the card number, the duration in milliseconds, whether the HSM answered and whether a
purchase that failed had debited the card all the same (a MAC2 the HSM refused).  Nothing
else: no PIN, no key, no cryptogram, no ``pOutInfo`` (it may hold a PIN, S3 §6.3.2).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
from pathlib import Path

_MAX_BYTES = 10 * 1024 * 1024
_BACKUPS = 10


class AuditLog:
    """Audit lines to ``path`` (rotated at 10 MiB, ten files kept); nowhere when ``None``."""

    def __init__(self, path: Path | None, *, name: str = "sbkcard.audit") -> None:
        self.path = path
        self._logger = logging.getLogger(f"{name}.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler: logging.Handler | None = None
        if path is not None:
            self._handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
            )
            self._logger.addHandler(self._handler)

    def record(self, **entry: object) -> None:
        """Write one line (the keys given, after the time)."""
        if self._handler is None:
            return
        line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **entry}
        self._logger.info(json.dumps(line, ensure_ascii=False))

    def close(self) -> None:
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
