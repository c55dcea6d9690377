"""VECTORS of the DF02 employment data area (S2 table 5)."""

from __future__ import annotations
