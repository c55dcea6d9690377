"""The root of the project's exception hierarchy.

Every host-side failure raised by sbkcard derives from :class:`SbkcardError`; each
subpackage defines its own subclasses next to the code that raises them.  A card's
answer is never an exception: it is a status word (see :mod:`sbkcard.apdu`).
"""


class SbkcardError(Exception):
    """Base class of every error raised by sbkcard."""
