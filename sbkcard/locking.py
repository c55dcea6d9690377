"""An advisory lock on an open file, released by the system if the process dies.

``fcntl.flock`` on POSIX systems, ``msvcrt.locking`` on Windows; imported when a lock
is taken, so that nothing else needs either module.
"""

from __future__ import annotations

import sys


def try_lock(fd: int) -> bool:
    """Lock the open file ``fd`` exclusively without waiting; False if another holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
