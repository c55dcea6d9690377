"""The root of the project's exception hierarchy.

Every host-side failure raised by sbkcard derives from :class:`SbkcardError`; each
subpackage defines its own subclasses next to the code that raises them.  A card's
answer is never an exception: it is a status word (see :mod:`sbkcard.apdu`).
"""


class SbkcardError(Exception):
    """Base class of every error raised by sbkcard."""


class TransportError(SbkcardError):
    """A reader, a card connection or the PC/SC stack failed (host side, not a card SW)."""


class NoCardError(TransportError):
    """No card in the reader (or the card is not powered)."""


class CardRemovedError(TransportError):
    """The card left the reader during a session; its handle is no longer valid."""
