"""Security modules: the PSAM or, in HSM mode, a key service.

What a terminal asks of a security module (:mod:`~sbkcard.terminal.security.base`), the PSAM
in the reader's second slot (:mod:`~sbkcard.terminal.security.sam`, Part 9), the key service
that replaces the PSAM (:mod:`~sbkcard.terminal.security.hsm`) and the card holder database's
side of the two-step functions (:mod:`~sbkcard.terminal.security.hsm_host`, S3 App. C).
"""
