"""What an image may hold beyond its syntax: values no real card could carry.

A card image is JSON anyone can edit; :func:`check_content` refuses, naming the field,
content that decodes but describes an impossible card: a user card's profile other
than 1, 2 or 3, its purse not 20 bytes (Part 7 §10: a balance read from a cut purse
would be wrong), an expiry not after the issue date (S2 table 3, EF05 ``07``/``08``),
``60`` in both DF02 EF06 and DF03 EF05 or, both written, in neither (S2 §7), or a PSAM
whose terminal number (file 0016) is of a region other than its ATR's
(Part 9 §7.3.3: the first six digits are the issuing city's code).
"""

from __future__ import annotations

from collections.abc import Mapping

from sbkcard.applet_model.data_items import ONE_OF
from sbkcard.applet_model.psam import DES_ENVIRONMENT, SM4_ENVIRONMENT, TerminalInfo
from sbkcard.applet_model.records import IssuerData, check_one_of
from sbkcard.applet_model.ssse import PURSE_SIZE, Layout
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.fcp import body_key
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.atr import historical_bytes

_PURSE = body_key("SSSE/DF04/PURSE")
_ISSUER = body_key("SSSE/EF05")
_NATIONAL_HISTORY = 13
"""Historical bytes of an ATR in the national format (Part 2 §8.4 table 16)."""


def check_content(kind: str, content: Mapping[str, bytes], atr: bytes, profile: int | None) -> None:
    """Raise ``ValueError`` naming the field if the image describes no possible card."""
    if kind in ("user-card", "user-card-3"):
        _user_card(content, profile)
    elif kind == "psam":
        _psam(content, atr)


def _user_card(content: Mapping[str, bytes], profile: int | None) -> None:
    if profile is not None and profile not in PROFILES:
        raise ValueError(
            f"profile {profile}: a user card is of profile {' or '.join(map(str, PROFILES))}"
        )
    purse = content.get(_PURSE)
    if purse is not None and len(purse) != PURSE_SIZE:
        raise ValueError(f"storage[{_PURSE!r}]: the purse is {PURSE_SIZE} bytes, not {len(purse)}")
    check_one_of({path: content.get(body_key(path), b"") for r in ONE_OF for path in r.paths})
    issuer = content.get(_ISSUER)
    if not issuer or not issuer.strip(b"\x00\xff"):
        return
    try:
        data = IssuerData.decode(issuer, Layout.V2)
    except SbkcardError:
        return  # undecodable issuer data is the card's answer to give, not the loader's
    if data.issue_date and data.expiry and data.expiry <= data.issue_date:
        raise ValueError(
            f"storage[{_ISSUER!r}]: expiry {data.expiry:%Y%m%d} is not after the issue date "
            f"{data.issue_date:%Y%m%d}"
        )


def _psam(content: Mapping[str, bytes], atr: bytes) -> None:
    try:
        history = historical_bytes(atr)
    except SbkcardError:
        return
    if len(history) != _NATIONAL_HISTORY:
        return
    atr_region = history[7:9].hex()
    for env in (DES_ENVIRONMENT, SM4_ENVIRONMENT):
        key = env.ef_key(0x0016)
        raw = content.get(key)
        if raw is None:
            continue
        try:
            number = TerminalInfo.from_bytes(raw).terminal_number
        except (SbkcardError, ValueError) as exc:
            raise ValueError(f"storage[{key!r}] (terminal number): {exc}") from None
        if number[:4] != atr_region:
            raise ValueError(
                f"storage[{key!r}]: terminal number {number} is of region {number[:4]}xx, "
                f"the ATR's is {atr_region}xx"
            )
