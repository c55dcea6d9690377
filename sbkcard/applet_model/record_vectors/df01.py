"""VECTORS of the DF01 common application data area (S2 table 4)."""

from __future__ import annotations
