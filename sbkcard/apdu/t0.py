"""T=0 response handling as a pure function over a transmit callable (ISO 7816-3 §12.2; Part 2 §9).

Under T=0 a card cannot return data with a case-4 command: it answers ``61xx`` and the
terminal fetches the data with GET RESPONSE ``00 C0 00 00 xx`` (repeatedly while the card
keeps answering ``61xx``).  A card that wants another Le answers ``6Cxx`` and the terminal
resends the same command with Le = ``xx``.  Example (real cards): SELECT of the SSSE answers
``61 1E``, then ``00 C0 00 00 1E`` returns the 30-byte FCI and ``9000``.
"""

from __future__ import annotations

from collections.abc import Callable

from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import ApduFormatError
from sbkcard.apdu.status import parse_more_data, parse_wrong_le
from sbkcard.errors import SbkcardError

Transmit = Callable[[bytes], bytes]

MAX_EXCHANGES = 256
"""Stop after this many exchanges for one command (a card stuck in ``61xx`` or ``6Cxx``)."""


class T0Error(SbkcardError):
    """The card kept answering ``61xx``/``6Cxx`` beyond :data:`MAX_EXCHANGES` exchanges."""


def _exchange(transmit: Transmit, apdu: bytes) -> bytes:
    answer = bytes(transmit(apdu))
    if len(answer) < 2:
        raise ApduFormatError(
            f"truncated: {len(answer)} of at least 2 bytes (SW1 SW2)",
            len(answer),
            what="response",
        )
    return answer


def transmit_t0(transmit: Transmit, apdu: bytes, *, max_exchanges: int = MAX_EXCHANGES) -> bytes:
    """Send ``apdu`` and return the complete response ``data ‖ SW``.

    ``61xx``: GET RESPONSE with Le = xx, repeated while the card answers ``61xx``, data
    concatenated.  ``6Cxx``: the same command (or GET RESPONSE) again with Le = xx.
    Raises :class:`T0Error` after ``max_exchanges`` exchanges.
    """
    command = bytes(apdu)
    collected = bytearray()
    for _ in range(max_exchanges):
        answer = _exchange(transmit, command)
        sw = int.from_bytes(answer[-2:])
        if (exact := parse_wrong_le(sw)) is not None:
            command = bytes(CommandAPDU.from_bytes(command).with_le(exact))
            continue
        if (available := parse_more_data(sw)) is not None:
            collected += answer[:-2]
            command = bytes(CommandAPDU(0x00, 0xC0, 0x00, 0x00, b"", available))
            continue
        return bytes(collected) + answer
    raise T0Error(
        f"no final status word after {max_exchanges} exchanges (the card keeps answering "
        f"61xx/6Cxx to {command.hex().upper()})"
    )


def t0_transmitter(transmit: Transmit) -> Transmit:
    """Wrap ``transmit`` so that every call goes through :func:`transmit_t0`."""

    def send(apdu: bytes) -> bytes:
        return transmit_t0(transmit, apdu)

    return send
