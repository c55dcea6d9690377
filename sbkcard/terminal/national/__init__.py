"""The national reader interface (人社信息函[2016]38号).

``iReadCardBas`` and the other functions with their output strings
(:mod:`~sbkcard.terminal.national.interface`) and error codes
(:mod:`~sbkcard.terminal.national.codes`).
"""
