"""The runtime that hosts applet models: power, ATR, journaled NVM, images, the vpcd bridge.

* :class:`~sbkcard.simulator.card.SimulatedCard`: an applet on its NVM behind ``transmit``.
* :class:`~sbkcard.simulator.nvm.JournaledNVM`: write-ahead journal, power cut at any step;
  :mod:`.faults` tears a command at every step.
* :func:`~sbkcard.simulator.image.load_image` / :func:`~sbkcard.simulator.image.save_image`:
  deterministic JSON card images.
* :mod:`.applets`: applet kinds by name (``"user-card"``, ``"psam"``).
* :func:`~sbkcard.simulator.demo.demo_card`, :func:`~sbkcard.simulator.demo.demo_psam`:
  the demo user card and PSAM in one call each.
"""

from typing import TYPE_CHECKING, Any

# Re-exported with "as" rather than listed in __all__, so that the API reference documents
# each object once, under the module that defines it.
from sbkcard.simulator.card import CardSnapshot as CardSnapshot
from sbkcard.simulator.card import SimulatedCard as SimulatedCard
from sbkcard.simulator.errors import ImageError as ImageError
from sbkcard.simulator.errors import SimulatorError as SimulatorError
from sbkcard.simulator.errors import UnknownAppletError as UnknownAppletError
from sbkcard.simulator.image import IMAGE_FORMAT as IMAGE_FORMAT
from sbkcard.simulator.image import load_image as load_image
from sbkcard.simulator.image import save_image as save_image
from sbkcard.simulator.nvm import JournaledNVM as JournaledNVM
from sbkcard.simulator.nvm import Recovery as Recovery

if TYPE_CHECKING:
    from sbkcard.simulator.demo import demo_card as demo_card
    from sbkcard.simulator.demo import demo_psam as demo_psam


def __getattr__(name: str) -> Any:
    """``demo_card`` and ``demo_psam`` load the applet models on first use (PEP 562)."""
    if name in ("demo_card", "demo_psam"):
        from sbkcard.simulator import demo

        return getattr(demo, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
