"""Identifiers and data formats of the social security card (SPEC §2.1, §7)."""
