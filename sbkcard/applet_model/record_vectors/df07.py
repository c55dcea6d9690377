"""VECTORS of the DF07 personnel and talent data area (S2 table 8)."""

from __future__ import annotations
