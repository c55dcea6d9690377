"""Reader transports.

What a reader slot offers (:mod:`~sbkcard.terminal.transports.transport`), the PC/SC slot
through pyscard (:mod:`~sbkcard.terminal.transports.pcsc`), and the reader API of Part 8
App. A over any of them (:mod:`~sbkcard.terminal.transports.reader_api`).
"""
