"""The standard's cryptography and key management (SPEC §4, §5, §9)."""
