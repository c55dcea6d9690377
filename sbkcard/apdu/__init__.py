"""Typed APDUs, status words, TLV, command builders, T=0, secure messaging, traces (Parts 4–5).

The names most code needs are re-exported here::

    from sbkcard.apdu import CommandAPDU, ResponseAPDU, SW, describe
"""

from sbkcard.apdu.command import Case, CommandAPDU
from sbkcard.apdu.errors import (
    ApduFormatError,
    SecureMessagingError,
    StatusWordError,
    TlvError,
    TraceFormatError,
)
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.status import SW, Kind, StatusInfo, describe, more_data, tries_left, wrong_le
from sbkcard.apdu.tlv import BerTlv, build_simple_tlv, parse_ber_tlv, parse_simple_tlv

__all__ = [
    "SW",
    "ApduFormatError",
    "BerTlv",
    "Case",
    "CommandAPDU",
    "Kind",
    "ResponseAPDU",
    "SecureMessagingError",
    "StatusInfo",
    "StatusWordError",
    "TlvError",
    "TraceFormatError",
    "build_simple_tlv",
    "describe",
    "more_data",
    "parse_ber_tlv",
    "parse_simple_tlv",
    "tries_left",
    "wrong_le",
]
