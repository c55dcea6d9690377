"""Card profiles: the generations of the social security card (S2 App. C; S3 §10.1–10.2).

A profile fixes the algorithm the SSSE announces (FCI tag ``86``; 1.00 cards announce
none), the specification version written to EF05 tag ``03`` and hence the layout (the
1.0x tree; on 3.00 cards EF06 is read after external authentication with RKSSSE), and
the ATR's chip bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from sbkcard.applet_model.ssse import Layout, national_tree
from sbkcard.applet_model.tree import Tree
from sbkcard.identifiers.atr import DEFAULT_CHIP, DEFAULT_MANUFACTURER
from sbkcard.keys import Algorithm

__all__ = [
    "FIRST_GENERATION",
    "ONE_RECORD_AT_A_TIME",
    "PROFILES",
    "SECOND_GENERATION",
    "THIRD_GENERATION",
    "Profile",
]


@dataclass(frozen=True)
class Profile:
    """One generation of card."""

    generation: int
    algorithm: Algorithm
    version: str
    chip: bytes = DEFAULT_CHIP
    vendor: bytes = b"SBK"
    manufacturer: bytes = DEFAULT_MANUFACTURER
    range_refusal: int | None = None
    """``None``: READ RECORD reads "P1 to last" and "last to P1" (P2 b3–b1 ``101``,
    ``110``). Else the COS lacks those optional modes and answers this status word
    (``6A81`` function not supported or ``6A86`` wrong P1-P2, Part 5 table 33)."""

    @property
    def layout(self) -> Layout:
        """The layout of this profile's version string."""
        return Layout.of(self.version)

    @property
    def tree(self) -> Tree:
        """The file tree cards of this profile carry."""
        return national_tree(self.layout, self.algorithm)

    def __str__(self) -> str:
        return f"generation {self.generation} ({self.algorithm.label}, version {self.version})"


FIRST_GENERATION = Profile(1, Algorithm.DES, "1.00", vendor=b"SB0")
"""1st generation (LB002-2000): version "1.00", the 1.0x tree (no ★ item, no ※ file, the
tags of S2 appendix C at their 1.00 lengths), DES keys (a choice: S2 and S3 do not name
the algorithm of 1.00 cards), no algorithm in the SSSE's FCI (S3 §10.1: the terminal
chooses it by region, DES outside 11xxxx)."""

SECOND_GENERATION = Profile(2, Algorithm.DES, "2.00")
"""2nd generation: DES/3DES (tag ``86`` = ``01``), version "2.00", EF06 readable freely."""

THIRD_GENERATION = Profile(3, Algorithm.SM4, "3.00", vendor=b"SB3")
"""3rd generation: SM4 (tag ``86`` = ``03``), version "3.00", EF06 behind RKSSSE."""

ONE_RECORD_AT_A_TIME = Profile(2, Algorithm.DES, "2.00", vendor=b"SB1", range_refusal=0x6A81)
"""2nd generation on another maker's COS (ATR bytes T3–T5 ``SB1``) without the optional
READ RECORD range modes: a reader must read it one record per command."""

PROFILES = MappingProxyType({1: FIRST_GENERATION, 2: SECOND_GENERATION, 3: THIRD_GENERATION})
"""Profiles by generation."""
