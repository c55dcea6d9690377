"""The social security user card: its COS, profiles and personalisation (Parts 2–5, 7, 10).

- :class:`UserCard` — the card's operating system over a
  :class:`~sbkcard.applet_model.storage.Storage` (:mod:`.card`);
- :class:`Profile`, :data:`FIRST_GENERATION`, :data:`SECOND_GENERATION`,
  :data:`THIRD_GENERATION` — DES "1.00" (LB002-2000), DES/3DES "2.00" and SM4 "3.00"
  cards (:mod:`.profile`);
- :mod:`.personalise` — the storage of a personalised or a blank card, and the
  personalisation commands;
- :mod:`.core` (the index and security checks every command group shares), one module
  per command group: :mod:`.file_commands`, :mod:`.pin_commands`, :mod:`.auth_commands`,
  :mod:`.block_commands`, :mod:`.personalisation_commands`, :mod:`.purse_commands`;
- :mod:`.fcp` (what the card stores), :mod:`.session` (its volatile security state),
  :mod:`.purse` (the DF04 medical purse), :mod:`.recordfile` (records in a file).
"""

from sbkcard.applet_model.user_card.card import UserCard
from sbkcard.applet_model.user_card.profile import (
    FIRST_GENERATION,
    PROFILES,
    SECOND_GENERATION,
    THIRD_GENERATION,
    Profile,
)

__all__ = [
    "FIRST_GENERATION",
    "PROFILES",
    "SECOND_GENERATION",
    "THIRD_GENERATION",
    "Profile",
    "UserCard",
]
