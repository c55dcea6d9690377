"""Card profiles: the generations of the social security card (SPEC §1.2, §10; S3 §10.1–10.2).

A profile fixes the algorithm the SSSE announces (FCI tag ``86``), the specification
version written to EF05 tag ``03`` and hence the layout (on 3.00 cards EF06 is read
after external authentication with RKSSSE), and the ATR's chip bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from sbkcard.applet_model.ssse import Layout, national_tree
from sbkcard.applet_model.tree import Tree
from sbkcard.identifiers.atr import DEFAULT_CHIP, DEFAULT_MANUFACTURER
from sbkcard.keys import Algorithm

__all__ = ["ONE_RECORD_AT_A_TIME", "PROFILES", "SECOND_GENERATION", "THIRD_GENERATION", "Profile"]


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


SECOND_GENERATION = Profile(2, Algorithm.DES, "2.00")
"""2nd generation: DES/3DES (tag ``86`` = ``01``), version "2.00", EF06 readable freely."""

THIRD_GENERATION = Profile(3, Algorithm.SM4, "3.00", vendor=b"SB3")
"""3rd generation: SM4 (tag ``86`` = ``03``), version "3.00", EF06 behind RKSSSE."""

ONE_RECORD_AT_A_TIME = Profile(2, Algorithm.DES, "2.00", vendor=b"SB1", range_refusal=0x6A81)
"""2nd generation on another maker's COS (ATR bytes T3–T5 ``SB1``) without the optional
READ RECORD range modes: a reader must read it one record per command."""

PROFILES = MappingProxyType({2: SECOND_GENERATION, 3: THIRD_GENERATION})
"""Profiles by generation."""
