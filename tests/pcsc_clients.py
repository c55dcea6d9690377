"""PC/SC client programs for the shared-reader tests, run as separate processes.

``python pcsc_clients.py unpower READER SECONDS`` loops connect → begin transaction →
SELECT → end transaction → disconnect with ``SCARD_UNPOWER_CARD`` for ``SECONDS``;
``python pcsc_clients.py reader READER SECONDS`` stays connected and runs SELECT + READ
RECORD in one transaction after another (one every :data:`POLL` s), never reconnecting
unless pcscd says the card was reset.  Both print one JSON line: sessions answered (a
status word came back), refusals by PC/SC error name, and the APDUs that came back
without a status word.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Any

from smartcard import scard

SELECT_SSSE = list(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))
READ_CARD_NUMBER = list(bytes.fromhex("00B2072C0B"))
POLL = 0.002
"""The reader's pause between reads: a monitoring application polls; one that spins
(3,000 transactions a second) leaves the other clients only refusals on a loaded machine."""
PROTOCOLS = int(scard.SCARD_PROTOCOL_T0) | int(scard.SCARD_PROTOCOL_T1)
NAMES = {
    int(getattr(scard, name)) & 0xFFFFFFFF: name
    for name in dir(scard)
    if name.startswith(("SCARD_E_", "SCARD_W_", "SCARD_F_"))
}


def _name(rc: int) -> str:
    return NAMES.get(rc & 0xFFFFFFFF, f"0x{rc & 0xFFFFFFFF:08X}")


def unpower(ctx: Any, reader: str, seconds: float, tally: Counter[str]) -> None:
    """Short sessions, each ending with a cold power-down (what many applications do)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rc, card, protocol = scard.SCardConnect(ctx, reader, scard.SCARD_SHARE_SHARED, PROTOCOLS)
        if rc:
            tally[_name(rc)] += 1
            continue
        rc = scard.SCardBeginTransaction(card)
        if rc:
            tally[_name(rc)] += 1
        else:
            rc, response = scard.SCardTransmit(card, protocol, SELECT_SSSE)
            if rc:
                tally[_name(rc)] += 1
            elif len(response) < 2:
                tally["no status word"] += 1
            else:
                tally["answered"] += 1
            scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
        scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)


def reader(ctx: Any, name: str, seconds: float, tally: Counter[str]) -> None:
    """One long connection; a transaction per read, as a monitoring application does."""
    rc, card, protocol = scard.SCardConnect(ctx, name, scard.SCARD_SHARE_SHARED, PROTOCOLS)
    if rc:
        tally[_name(rc)] += 1
        return
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rc = scard.SCardBeginTransaction(card)
        if rc == 0:
            rc, first = scard.SCardTransmit(card, protocol, SELECT_SSSE)
            if rc == 0:
                rc, second = scard.SCardTransmit(card, protocol, READ_CARD_NUMBER)
            scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
        if rc == 0:
            tally["answered" if len(first) >= 2 and len(second) >= 2 else "no status word"] += 1
            time.sleep(POLL)
            continue
        tally[_name(rc)] += 1
        rc, protocol = scard.SCardReconnect(
            card, scard.SCARD_SHARE_SHARED, PROTOCOLS, scard.SCARD_LEAVE_CARD
        )
        if rc:
            tally[_name(rc)] += 1
    scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)


def main(mode: str, name: str, seconds: str) -> None:
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc:
        raise SystemExit(f"no PC/SC service: {_name(rc)}")
    tally: Counter[str] = Counter()
    {"unpower": unpower, "reader": reader}[mode](ctx, name, float(seconds), tally)
    scard.SCardReleaseContext(ctx)
    print(json.dumps(tally))


if __name__ == "__main__":
    main(*sys.argv[1:])
