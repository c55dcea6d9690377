"""Status words (SPEC §3 status table, ISO/IEC 7816-4 §5.6).

:class:`SW` names every fixed status word the national card and PSAM use.  The
parametrised families ``61xx`` (more data), ``63Cx`` (tries left) and ``6Cxx`` (wrong
Le) are built by :func:`more_data`, :func:`tries_left` and :func:`wrong_le`.
"""

from __future__ import annotations

from enum import IntEnum


class SW(IntEnum):
    """Fixed status words of the standard (SPEC §3) and ISO 7816-4."""

    OK = 0x9000
    WARNING_NV_UNCHANGED = 0x6200
    WARNING_NV_CHANGED = 0x6300
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    INVALID_STATE = 0x6901
    INCOMPATIBLE_FILE = 0x6981
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_BLOCKED = 0x6983
    REF_DATA_INVALID = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    SM_MISSING = 0x6987
    SM_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NO_SPACE = 0x6A84
    LC_TLV_INCONSISTENT = 0x6A85
    WRONG_P1P2 = 0x6A86
    REF_NOT_FOUND = 0x6A88
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00
    MAC_INVALID = 0x9302
    APP_BLOCKED = 0x9303
    INSUFFICIENT_FUNDS = 0x9401
    COUNTER_MAX = 0x9402
    KEY_INDEX_NOT_SUPPORTED = 0x9403
    MAC_NOT_AVAILABLE = 0x9406
    PSAM_MAC2_INVALID = 0x63CF


def more_data(available: int) -> int:
    """``61xx``: ``available`` bytes wait for GET RESPONSE (``00`` means 256)."""
    return 0x6100 | (available & 0xFF)


def tries_left(count: int) -> int:
    """``63Cx``: verification failed, ``count`` (0–15) tries left."""
    if not 0 <= count <= 0x0F:
        raise ValueError(f"tries left must be 0..15, got {count}")
    return 0x63C0 | count


def wrong_le(actual: int) -> int:
    """``6Cxx``: wrong Le; resend with Le = ``actual`` (``00`` means 256)."""
    return 0x6C00 | (actual & 0xFF)
