"""VECTORS of the DF04 social insurance data area 2 (S2 table 7)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import TransactionLog, TransactionRecord

TransactionLog.VECTORS = (
    # newest first: a purchase (type 2) of 25.00 元, 3.00 self-paid, 12.00 pooled, after a
    # load (type 1) of 100.00 元, as the purse writes them (S2 table 7: 0x1C-byte records)
    (
        bytes.fromhex(
            "00003241010000000120240305101500000009C40000012C000004B0"
            "00003141010000000120240301093000000027100000000000000000"
        ),
        TransactionLog(
            records=(
                TransactionRecord(
                    0, "2", "410100000001", datetime.datetime(2024, 3, 5, 10, 15), 2500, 300, 1200
                ),
                TransactionRecord(
                    0, "1", "410100000001", datetime.datetime(2024, 3, 1, 9, 30), 10000, 0, 0
                ),
            )
        ),
    ),
)
