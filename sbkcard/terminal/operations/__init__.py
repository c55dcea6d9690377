"""Terminal operations over a connection to the card (Part 7).

Card authenticity and external authentication (:mod:`~sbkcard.terminal.operations.auth`),
the basic information (:mod:`~sbkcard.terminal.operations.basic`), reading and writing by
file address (:mod:`~sbkcard.terminal.operations.fileaddr`,
:mod:`~sbkcard.terminal.operations.files`, :mod:`~sbkcard.terminal.operations.values`), the
PIN and the PIN pad (:mod:`~sbkcard.terminal.operations.pin`,
:mod:`~sbkcard.terminal.operations.pinpad`), the medical purse
(:mod:`~sbkcard.terminal.operations.purse`), application maintenance
(:mod:`~sbkcard.terminal.operations.maintenance`), and the third-generation card's
certificate application (:mod:`~sbkcard.terminal.operations.pki`, its user PIN at the
counter :mod:`~sbkcard.terminal.operations.cert_pin`).
"""
