"""Issuing one card as a personalisation machine does (Part 10 §5.1–§5.4; Part 9 §7.3).

An issued card goes through four steps, and only a card that passed the fourth is issued:

1. **Its keys.** The card's serial (the registry's card identification code) gives its
   ATR (:func:`~sbkcard.applet_model.user_card.personalise.card_atr`, Part 10 §5.1.2), whose
   last 8 bytes are the card factor; each key of the issuer's
   :class:`~sbkcard.keys.hierarchy.KeySet` is diversified root → province → city →
   card (Part 9 §7.3). :func:`derive_keys` does a whole batch at once with
   :func:`~sbkcard.keys.hierarchy.derive_batch`: per region and key, one ECB call
   (:func:`sbkcard.keys.diversify_batch`) covers every card.
2. **A blank chip.** :func:`blank_card`: a chip after COS activation (Part 10 §5.1),
   holding its ATR and the batch's transport key as the MF master key, hosted by
   :class:`~sbkcard.simulator.SimulatedCard`.
3. **Personalisation by APDUs** (Part 10 §5.2, §5.4), :func:`personalise_card`: the
   command sequence of :func:`sbkcard.applet_model.user_card.personalise.personalise`
   — authenticate the transport key, create the SSSE and load its master key, create
   every file, load every key as ciphertext + MAC under the master key in control
   (Part 4 §8.2–8.3), write the PIN and EF05/EF06/DF04 records by UPDATE RECORD, and
   replace the card master key last (Part 10 §5.2.6). The card then holds exactly what
   the fast path :func:`~sbkcard.applet_model.user_card.personalise.user_card_content`
   computes for the same inputs (:func:`expected_storage`).
4. **Read back with the terminal** (:class:`Verifier`): a terminal session on the card
   (SSSE, EF05, hotlist), :func:`~sbkcard.terminal.operations.basic.read_basic_info` with the
   IRK internal authentication checked by a PSAM or a key service (Part 7 §5.4; on 3.0
   cards RKSSSE opens EF06), the medical items of DF04 EF05 behind RK1DF04, and the
   initial PIN; every value is compared with the order (:class:`CardCheckError`).

:func:`issue_card` runs 2–4 for one card; :mod:`sbkcard.issuance.batch` adds the
registry, the card images and resuming.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from sbkcard.applet_model.records import Cardholder, FileContent, MedicalInsurance
from sbkcard.applet_model.user_card import Profile
from sbkcard.applet_model.user_card.personalise import (
    blank_card_content,
    card_atr,
    personalise,
    user_card_content,
)
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.card_id import CardId
from sbkcard.issuance.applicants import Applicant
from sbkcard.issuance.registry import CardRecord
from sbkcard.keys.hierarchy import KeySet, derive_batch
from sbkcard.keys.store_keyset import IssuerKeys, card_keys_of
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.connection import AuthPreference
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.national.interface import national_date
from sbkcard.terminal.operations.basic import BasicInfo, read_basic_info
from sbkcard.terminal.operations.files import read_address
from sbkcard.terminal.operations.pinpad import Pin
from sbkcard.terminal.security.hsm import KeyService, SoftwareKeyService
from sbkcard.terminal.terminal import Terminal
from sbkcard.terminal.transports.transport import Transport

__all__ = [
    "CARD_TYPE",
    "INITIAL_PIN",
    "MEDICAL_ADDRESS",
    "VALIDITY_YEARS",
    "BlankCards",
    "CardCheckError",
    "CardOrder",
    "IssuanceError",
    "Verifier",
    "blank_card",
    "derive_keys",
    "expected_storage",
    "issue_card",
    "personalise_card",
]

VALIDITY_YEARS = 10
"""Years from issue to expiry (EF05 tags 05/06; a real card: 20180403 → 20280403, S2 §8.1.1.6)."""
CARD_TYPE = "3"
"""EF05 tag 02: ``'3'`` when the issuer does not tell age groups apart (S2 table 11)."""
INITIAL_PIN = "123456"
"""The initial PIN of a new card (the default seen in real-card traces); the holder changes it."""
MEDICAL_ADDRESS = "DF04EF05|81|84|8C|$"
"""The medical items an applicant brings, as a reader-interface file address (S3 §2.1.2)."""


class IssuanceError(SbkcardError):
    """Issuing a card failed (the message names the card and what went wrong)."""


class CardCheckError(IssuanceError):
    """The card read back by the terminal does not hold what was ordered."""

    def __init__(self, card_number: str, field: str, expected: str, found: str) -> None:
        super().__init__(
            f"card {card_number}: {field} reads {found!r} instead of {expected!r} after "
            "personalisation"
        )
        self.card_number = card_number
        self.field = field


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class CardOrder:
    """What goes on one card: the applicant, the registry's reservation, the profile."""

    applicant: Applicant
    card_number: str
    card_id: CardId
    profile: Profile
    issue_date: datetime.date
    pin: str | None = INITIAL_PIN

    @classmethod
    def of(
        cls,
        applicant: Applicant,
        record: CardRecord,
        profile: Profile,
        issue_date: datetime.date | None = None,
        *,
        pin: str | None = INITIAL_PIN,
    ) -> CardOrder:
        """The order for ``applicant``'s reserved card ``record``.

        ``issue_date`` defaults to the reservation's date, so that an order made again
        when a batch resumes is the same order.
        """
        day = issue_date or datetime.date.fromisoformat(record.created_at[:10])
        return cls(applicant, record.card_number, record.card_id, profile, day, pin)

    def __repr__(self) -> str:
        return (
            f"CardOrder({self.card_number}, {self.card_id}, generation {self.profile.generation})"
        )

    @property
    def expiry(self) -> datetime.date:
        """卡有效期: :data:`VALIDITY_YEARS` after the issue date."""
        return _add_years(self.issue_date, VALIDITY_YEARS)

    @property
    def region(self) -> str:
        """The issuing region (the card identification code's, S2 §8.1.1.1)."""
        return self.card_id.region

    @property
    def atr(self) -> bytes:
        """The card's ATR: profile chip bytes, region and serial (Part 10 §5.1.2)."""
        return card_atr(self.profile, self.card_id)

    def cardholder(self) -> Cardholder:
        """SSSE EF06 of this card (S2 §8.1.2)."""
        a = self.applicant
        return Cardholder(
            ssn=a.ssn,
            name=a.name,
            gender=a.gender,
            ethnicity=a.ethnicity,
            birthplace=a.birthplace,
            birth_date=a.birth_date,
        )

    def files(self) -> dict[str, FileContent]:
        """Other data files by path: DF04 EF05 when the applicant brings medical items."""
        medical = self.applicant.medical
        if medical is None:
            return {}
        return {
            "SSSE/DF04/EF05": MedicalInsurance(
                scheme=medical.insurance_type,
                region=medical.insured_region,
                category=medical.personnel_category,
            )
        }


def derive_keys(keyset: IssuerKeys, orders: Sequence[CardOrder]) -> list[dict[str, bytes]]:
    """Every card's keys, in the order of ``orders``.

    Roots in clear: per region and key one ECB call. Roots in a store: each card's keys
    derived inside it.
    """
    if not isinstance(keyset, KeySet):
        return [card_keys_of(keyset, order.region, order.atr) for order in orders]
    by_region: dict[str, list[int]] = {}
    for index, order in enumerate(orders):
        by_region.setdefault(order.region, []).append(index)
    result: list[dict[str, bytes]] = [{} for _ in orders]
    for region, indices in by_region.items():
        derived = derive_batch(keyset, region, [orders[i].atr for i in indices])
        for index, keys in zip(indices, derived, strict=True):
            result[index] = keys
    return result


def blank_card(order: CardOrder, transport_key: bytes) -> SimulatedCard:
    """A chip after COS activation for ``order``: its ATR and the batch's transport key."""
    algorithm = order.profile.algorithm
    content = blank_card_content(transport_key, atr=order.atr, algorithm=algorithm)
    return SimulatedCard.create("user-card", content, order.atr, profile=order.profile.generation)


BlankCards = Callable[[CardOrder, bytes], SimulatedCard]
"""Where blank chips come from: ``(order, transport key) → card`` (:func:`blank_card`)."""


def personalise_card(
    card: Transport, order: CardOrder, keys: Mapping[str, bytes], transport_key: bytes
) -> int:
    """Personalise the blank ``card`` (a simulated chip, or a chip in a reader) by APDUs
    (step 3); returns the number of APDUs sent.

    A card that refuses a command raises
    :class:`~sbkcard.applet_model.user_card.personalise.PersonalisationError`; one that
    loses power raises :class:`~sbkcard.errors.CardRemovedError`.
    """
    count = 0

    def transmit(apdu: bytes) -> bytes:
        nonlocal count
        count += 1
        return card.transmit(apdu)

    card.power_on()
    try:
        personalise(
            transmit, transport_key, order.profile, order.cardholder(), keys, **_card_data(order)
        )
    finally:
        card.power_off()
    return count


def expected_storage(order: CardOrder, keys: Mapping[str, bytes]) -> dict[str, bytes]:
    """What the card of ``order`` holds once personalised: the fast path's storage."""
    return user_card_content(
        order.profile, order.cardholder(), keys, atr=order.atr, **_card_data(order)
    )


class _CardData(TypedDict):
    """What an order writes besides the cardholder, for both paths alike."""

    card_id: CardId
    card_number: str
    issue_date: datetime.date
    expiry: datetime.date
    card_type: str
    pin: str | None
    files: Mapping[str, FileContent]


def _card_data(order: CardOrder) -> _CardData:
    return _CardData(
        card_id=order.card_id,
        card_number=order.card_number,
        issue_date=order.issue_date,
        expiry=order.expiry,
        card_type=CARD_TYPE,
        pin=order.pin,
        files=order.files(),
    )


def _expected(order: CardOrder) -> dict[str, str]:
    a = order.applicant
    values = {
        "card identification code": order.card_id.hex,
        "card number": order.card_number,
        "card type": CARD_TYPE,
        "specification version": order.profile.version,
        "issue date": order.issue_date.strftime("%Y%m%d"),
        "expiry": order.expiry.strftime("%Y%m%d"),
        "SSN": a.ssn,
        "name": a.name,
        "gender": a.gender,
        "ethnicity": a.ethnicity,
        "birthplace": a.birthplace,
        "birth date": a.birth_date.strftime("%Y%m%d"),
    }
    if a.medical is not None:
        values["insurance type"] = a.medical.insurance_type
        values["insured region"] = a.medical.insured_region
        values["personnel category"] = a.medical.personnel_category
    return values


def _read(info: BasicInfo) -> dict[str, str]:
    issuer, holder = info.issuer, info.holder
    return {
        "card identification code": str(issuer.card_id),
        "card number": issuer.card_number,
        "card type": issuer.card_type,
        "specification version": issuer.version,
        "issue date": national_date(issuer.issue_date),
        "expiry": national_date(issuer.expiry),
        "SSN": holder.ssn,
        "name": holder.name,
        "gender": holder.gender,
        "ethnicity": holder.ethnicity,
        "birthplace": holder.birthplace,
        "birth date": holder.birth_date,
    }


@dataclass
class Verifier:
    """The terminal that reads every new card back (step 4).

    The security module is the PSAM in ``psam`` (a transport: a simulated PSAM or key
    card, or a PSAM in a PC/SC reader) when given, else ``key_service``. ``hotlist``,
    when given, is checked as every terminal does (a new card must not be listed).
    Every card goes into the same terminal, as on a line's check station: the PSAM's
    key depths are learned on the first card.
    """

    key_service: KeyService | None = None
    psam: Transport | None = None
    hotlist: Hotlist | None = None
    _terminal: Terminal | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def software(cls, keyset: KeySet, *, hotlist: Hotlist | None = None) -> Verifier:
        """A verifier using a software key service over ``keyset``."""
        return cls(key_service=SoftwareKeyService(keyset), hotlist=hotlist)

    def check(self, card: Transport, order: CardOrder) -> BasicInfo:
        """Read ``card`` back and compare it with ``order``; the basic information read.

        Raises :class:`CardCheckError` for a value that differs, and the terminal's
        errors (:class:`~sbkcard.terminal.errors.AuthenticityError` for a wrong IRK …).
        """
        with self._reader(card).session() as conn:
            info = read_basic_info(conn)
            found = _read(info)
            if order.applicant.medical is not None:
                medical = read_address(conn, MEDICAL_ADDRESS, prefer=AuthPreference.KEY)
                scheme, region, category = medical.files[0].values
                found["insurance type"] = scheme
                found["insured region"] = region
                found["personnel category"] = category
            if order.pin is not None:
                conn.verify_pin(Pin(order.pin))
        for name, expected in _expected(order).items():
            if found.get(name) != expected:
                raise CardCheckError(order.card_number, name, expected, found.get(name, ""))
        return info

    def _reader(self, card: Transport) -> Terminal:
        """The check station's terminal with ``card`` inserted (its trace restarted)."""
        if self._terminal is None:
            self._terminal = Terminal(
                card, psam_reader=self.psam, key_service=self.key_service, hotlist=self.hotlist
            )
        self._terminal.card_reader = card
        self._terminal.trace.clear()
        return self._terminal


def issue_card(
    order: CardOrder,
    keys: Mapping[str, bytes],
    *,
    transport_key: bytes,
    verifier: Verifier,
    blank: BlankCards = blank_card,
) -> SimulatedCard:
    """Steps 2–4 for one card: a blank chip, personalised by APDUs, read back and checked."""
    card = blank(order, transport_key)
    personalise_card(card, order, keys, transport_key)
    verifier.check(card, order)
    return card
