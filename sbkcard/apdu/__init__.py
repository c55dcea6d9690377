"""Typed APDUs, status words, TLV, command builders, T=0, secure messaging, traces (SPEC §3, §5)."""
