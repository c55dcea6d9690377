"""Which cards a terminal accepts, and what it does with a hotlisted one (Part 7 §5.4).

After reading the issuer data (SSSE EF05) the terminal checks, in the order of Part 7
§5.4: the hotlist (:mod:`sbkcard.terminal.hotlist`), then — :meth:`CardPolicy.check` —

* the 初始化机构编号 (tag ``04``) against :attr:`CardPolicy.init_orgs` (prefixes; any
  organisation by default);
* the 卡的类别 (tag ``02``) against :attr:`CardPolicy.card_types` (``'1'``–``'4'``);
* the 规范版本 (tag ``03``) against :attr:`CardPolicy.versions` (the first three
  characters: 1.0x, 2.0x, 3.0x; an empty version is 1.0x, S3 §10.2);
* the validity period: the terminal's date not before the 发卡日期 (tag ``05``) and not
  after the 卡有效期 (tag ``06``); a date the card leaves empty (``FFFFFFFF``) sets no
  bound.

A failed check is :class:`~sbkcard.terminal.errors.UnsupportedCardError` (organisation,
type, version; national code -1) or a
:class:`~sbkcard.terminal.errors.CardValidityError` (national code -21).

Part 7 leaves what to do with a hotlisted card to the terminal (§5.5; Part 8 §7).
:attr:`CardPolicy.block_hotlisted` names the application a terminal blocks (APPLICATION
BLOCK, :func:`sbkcard.terminal.operations.maintenance.block_application`) before it refuses a
hotlisted card; off by default, since a card reported lost may be found again (解挂) and
a blocked application is blocked for good.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sbkcard.applet_model.ssse import LayoutError
from sbkcard.terminal.errors import (
    CardExpiredError,
    CardNotYetValidError,
    UnsupportedCardError,
)

if TYPE_CHECKING:
    from sbkcard.applet_model.records import IssuerData

VERSIONS = ("1.0", "2.0", "3.0")
"""The specification versions a terminal supports by default (first three characters)."""
CARD_TYPES = ("1", "2", "3", "4")
"""卡的类别: preschool, student, adult, elderly (S2 §8.1.1.2, table 11)."""


@dataclass(frozen=True)
class CardPolicy:
    """A terminal's configuration of Part 7 §5.4 (see the module docstring).

    ``init_orgs`` ``None`` accepts every initialising organisation; otherwise a card's
    24-digit code (cn 12) must start with one of the strings (``"9156000002"``: every card
    initialised under the national scheme; ``"915600000241"``: those of Henan).
    ``block_hotlisted`` is ``None`` (refuse only) or the DF to block: ``"SSSE"`` (the
    whole social security application; SELECT of the SSSE then answers ``9303``) or an
    application such as ``"DF04"``.
    """

    versions: tuple[str, ...] = VERSIONS
    card_types: tuple[str, ...] = CARD_TYPES
    init_orgs: tuple[str, ...] | None = None
    block_hotlisted: str | None = None

    def check(self, issuer: IssuerData, today: dt.date) -> None:
        """Raise the error of the first §5.4 check ``issuer`` fails on ``today``."""
        org = issuer.init_org
        if self.init_orgs is not None and not org.startswith(tuple(self.init_orgs)):
            raise UnsupportedCardError(
                f"initialising organisation {org or '(none)'} (EF05 tag 04) is not one this "
                f"terminal supports ({', '.join(self.init_orgs) or 'none'})"
            )
        if issuer.card_type not in self.card_types:
            raise UnsupportedCardError(
                f"card type {issuer.card_type or '(none)'} (EF05 tag 02) is not one this "
                f"terminal supports ({', '.join(self.card_types)})"
            )
        try:
            head: str | None = issuer.layout.value
        except LayoutError:
            head = None
        if head not in self.versions:
            supported = ", ".join(f"{v}x" for v in self.versions)
            raise UnsupportedCardError(
                f"specification version {issuer.version!r} (EF05 tag 03) is not one this "
                f"terminal supports ({supported})"
            )
        check_validity(issuer, today)


def check_validity(issuer: IssuerData, today: dt.date) -> None:
    """The card's validity period (Part 7 §5.4): issued on or before ``today``, not expired."""
    issued, expiry = issuer.issue_date, issuer.expiry
    dates = {
        "issue_date": "" if issued is None else f"{issued:%Y%m%d}",
        "expiry": "" if expiry is None else f"{expiry:%Y%m%d}",
        "today": f"{today:%Y%m%d}",
    }
    if issued is not None and today < issued:
        raise CardNotYetValidError(
            f"card {issuer.card_number} is not valid yet: issued {issued}, today is {today}",
            **dates,
        )
    if expiry is not None and today > expiry:
        raise CardExpiredError(
            f"card {issuer.card_number} expired on {expiry} (today is {today})", **dates
        )
