"""Files holding secrets or personal data are created readable by their owner only.

The card registry (names, social security numbers), the hotlist and the key files
are created with mode 0600 whatever the umask; SQLite gives a database's ``-journal``
and ``-wal`` files the mode of the database file itself, so they follow (Part 10 §6.3.3
item 5: keys and personal data protected at rest).
"""

from __future__ import annotations

import os

__all__ = ["create_private"]


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (``:memory:`` is left alone)."""
    if os.fspath(path) == ":memory:":
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
