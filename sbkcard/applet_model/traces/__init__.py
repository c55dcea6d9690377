"""Traces read and replayed with the card's declarations (DESIGN: one typed APDU model
shared by host, card and trace decoder; traces that unwrap secure messaging and mask
secrets).

- :mod:`.decode`: :func:`read_trace` (device-prefixed lines, as a terminal writes them),
  :func:`decode_trace` (every exchange annotated: command, DF/EF, records and data items,
  status words, secure-messaging layout; secrets masked again);
- :mod:`.card`, :mod:`.psam`: how the user card and the PSAM are followed through a trace;
- :mod:`.layouts`: the data fields of the authentication, purse and PSAM commands;
- :mod:`.values`: the command as decoders see it and how values are shown;
- :mod:`.replay`: :func:`replay_trace` on simulated devices, with the recorded
  randomness given back to them, and a verdict per exchange.
"""

from sbkcard.applet_model.traces.decode import (
    DEVICES,
    Decoded,
    TracedExchange,
    decode_trace,
    decoded_text,
    read_trace,
)
from sbkcard.applet_model.traces.replay import (
    Outcome,
    RecordedRandom,
    ReplayError,
    Verdict,
    replay_trace,
)

__all__ = [
    "DEVICES",
    "Decoded",
    "Outcome",
    "RecordedRandom",
    "ReplayError",
    "TracedExchange",
    "Verdict",
    "decode_trace",
    "decoded_text",
    "read_trace",
    "replay_trace",
]
