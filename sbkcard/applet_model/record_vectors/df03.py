"""VECTORS of the DF03 social insurance data area 1 (S2 table 6)."""

from __future__ import annotations
