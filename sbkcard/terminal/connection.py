"""A card in the reader, powered and its SSSE selected: what a run of operations shares.

:meth:`Connection.open` does the preprocessing every transaction starts with (Part 7
§5, S3 §1.1.3): power the card, SELECT the SSSE by name (its FCI gives the algorithm,
tag ``86``, S3 §10.1), read the issuer data (SSSE EF05, free, in one READ RECORD "P1 to
last" by SFI), and check the card (Part 7 §5.4) before anything else happens: against
the hotlist (Part 8 §7.2), then its initialising organisation, card type, specification
version and validity period against the terminal's
:class:`~sbkcard.terminal.policy.CardPolicy`.

The connection then keeps the card's security state as the terminal knows it: the DF
selected, the keys authenticated in it (forgotten when another DF is selected, Part 7
§6.6), whether the PIN was verified (kept until power-off, Part 7 §5.8), and the
security module (PSAM or HSM) opened on first use.  :meth:`Connection.require` meets a
file's access rule (:class:`~sbkcard.applet_model.tree.Access`) with the fewest
commands: nothing if it is already met, else the PIN (through the PIN pad) or an
external authentication through the security module.

Cards come from many chip makers, and READ RECORD's range modes ("P1 to last", "last
to P1") are optional: a COS without them answers ``6A81`` or ``6A86`` (Part 5 table
33). The connection then reads the file one record per command, as vendor readers do,
and remembers the card type (ATR historical bytes T1–T7: chip provider, COS bytes,
card manufacturer, Part 2 §8.4 table 16) in a set its terminal keeps, so that later
cards of that type are read one record at a time from the start.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sbkcard.apdu import builders as b
from sbkcard.apdu.errors import TlvError
from sbkcard.apdu.status import SW, parse_tries_left, tries_left
from sbkcard.apdu.tlv import parse_ber_tlv, parse_simple_tlv
from sbkcard.applet_model.data_items import FILE_ITEMS, DataItem
from sbkcard.applet_model.records import IssuerData, RecordError
from sbkcard.applet_model.ssse import Layout, LayoutError, national_tree
from sbkcard.applet_model.tree import EF, Access, Rule, Tree, permits
from sbkcard.errors import SbkcardError
from sbkcard.identifiers.atr import historical_bytes
from sbkcard.identifiers.errors import IdentifierError
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.hierarchy import KeySpec, card_key
from sbkcard.terminal.errors import (
    ApplicationBlockedError,
    CardBlockedError,
    CardStatusError,
    InvalidInputError,
    NoPsamError,
    PinBlockedError,
    UnsupportedCardError,
    WrongPinError,
)
from sbkcard.terminal.hotlist import Hotlist
from sbkcard.terminal.operations.pinpad import Pin, PinPad, PinPrompt, enter_pin
from sbkcard.terminal.policy import CardPolicy
from sbkcard.terminal.security.base import CardContext, SecurityModule
from sbkcard.terminal.transports.transport import ReaderSession

SSSE = "SSSE"
CHALLENGE_LENGTH = 8
RANGE_REFUSALS = frozenset({SW.FUNCTION_NOT_SUPPORTED, SW.WRONG_P1P2})
"""What a COS without READ RECORD's range modes answers them (Part 5 table 33)."""
LAST_RECORD = 0xFE
"""The highest record number (Part 5 §6.10.2)."""

_tree = functools.cache(national_tree)
"""The national tree of a layout and algorithm (frozen declarations: built once, shared)."""


@dataclass(frozen=True)
class Fci:
    """The SSSE's FCI (Part 5 §6.11): DF name, directory SFI, algorithm (tag ``86``, if any)."""

    name: bytes
    dir_sfi: int | None
    algorithm: Algorithm | None
    raw: bytes


def parse_fci(data: bytes) -> Fci:
    """Decode ``6F [84 name] [A5 [88 sfi] [9F0C [86 alg]]]`` (Part 5 §6.11, S3 §10.1)."""
    try:
        (top,) = [t for t in parse_ber_tlv(data) if t.tag == 0x6F]
        fields = {t.tag: t for t in parse_ber_tlv(top.value)}
        name = fields[0x84].value if 0x84 in fields else b""
        prop = {t.tag: t.value for t in parse_ber_tlv(fields[0xA5].value)} if 0xA5 in fields else {}
        sfi = prop[0x88][0] if len(prop.get(0x88, b"")) == 1 else None
        issuer = dict(parse_simple_tlv(prop.get(0x9F0C, b""), allow_padding=True))
    except (TlvError, ValueError, KeyError) as exc:
        raise UnsupportedCardError(
            f"SSSE FCI {data.hex().upper()} is not well formed: {exc}"
        ) from exc
    alg_code = issuer.get(0x86, b"")
    algorithm = None
    if len(alg_code) == 1:
        try:
            algorithm = Algorithm(alg_code[0])
        except ValueError:
            raise UnsupportedCardError(f"unknown algorithm identifier {alg_code[0]:02X}") from None
    return Fci(name, sfi, algorithm, data)


def default_algorithm(region: str) -> Algorithm:
    """The algorithm of a card whose FCI has no tag ``86``: SSF33 for Beijing (region 11),
    DES otherwise (S3 §10.1)."""
    return Algorithm.SSF33 if region.startswith("11") else Algorithm.DES


def decode_records(data: bytes) -> dict[tuple[int, int], bytes]:
    """Values of a variable-length record file read whole: ``(tag, occurrence) → value``."""
    out: dict[tuple[int, int], bytes] = {}
    seen: dict[int, int] = {}
    try:
        records = parse_simple_tlv(data, allow_padding=True)
    except TlvError as exc:
        raise UnsupportedCardError(f"records are not simple-TLV: {exc}") from exc
    for tag, value in records:
        seen[tag] = seen.get(tag, 0) + 1
        out[tag, seen[tag]] = value
    return out


def records_length(items: tuple[DataItem, ...]) -> int:
    """The length of all records of a file as declared (Le of a "P1 to last" read)."""
    return sum(it.tlv_size * it.repeat for it in items if it.tag is not None)


class AuthPreference(Enum):
    """How to meet a "PIN or key" rule (the iAuthType of iReadCard: 1 PIN, 2 RK)."""

    PIN = 1
    KEY = 2


class Connection:
    """One inserted card, from power-up to power-off (see the module docstring)."""

    def __init__(
        self,
        card: ReaderSession,
        *,
        module: Callable[[], SecurityModule | None],
        hotlist: Hotlist | None,
        pinpad: PinPad | None,
        rng: Callable[[int], bytes],
        clock: Callable[[], dt.datetime],
        device_number: str = "",
        terminal_number: str = "000000000000",
        policy: CardPolicy | None = None,
        one_record_types: set[bytes] | None = None,
    ) -> None:
        self.card = card
        self.one_record_types = one_record_types if one_record_types is not None else set()
        """Card types read one record per READ RECORD (see the module docstring)."""
        self.card_type = b""
        self.policy = policy if policy is not None else CardPolicy()
        """The cards this terminal accepts (Part 7 §5.4)."""
        self.device_number = device_number
        self.own_terminal_number = terminal_number
        """The terminal's 终端机编号 when no PSAM gives one (zeros by default, S3 §1.3.2)."""
        self._module_factory = module
        self._module: SecurityModule | None = None
        self._module_opened = False
        self._module_ready = False
        self.hotlist = hotlist
        self.pinpad = pinpad
        self.rng = rng
        self.clock = clock
        self.fci: Fci | None = None
        self.issuer: IssuerData | None = None
        self.context: CardContext | None = None
        self.tree: Tree | None = None
        self.current_df: str | None = None
        self.granted: set[str] = set()
        self.pin_verified = False

    # -- preprocessing --------------------------------------------------------------------

    def open(self) -> IssuerData:
        """Power up, select the SSSE, read EF05, check the card (Part 7 §5, §5.4).

        The issuer data and card context are kept before the checks, so that a terminal
        may still act on a refused card (block a hotlisted card's application).
        """
        card = self.card
        atr = card.power_on()
        self.card_type = card_type(atr)
        with card.during("SSSE selection"):
            self.fci = parse_fci(self._select_name(b.SSSE_NAME, "SELECT SSSE"))
            self.current_df = SSSE
        items = FILE_ITEMS["SSSE/EF05"]
        with card.during("reading the issuer data (EF05)"):
            raw = self.read_all_records(0x05, items, "READ RECORD SSSE EF05")
        try:
            issuer = IssuerData.decode(raw)
        except RecordError as exc:
            raise UnsupportedCardError(f"EF05 is not well formed: {exc}") from exc
        if issuer.card_id is None:
            raise UnsupportedCardError("EF05 holds no card identification code (tag 01)")
        card_id = issuer.card_id
        algorithm = self.fci.algorithm or default_algorithm(card_id.region)
        self.issuer = issuer
        self.context = CardContext(
            atr, card_id.to_bytes(), issuer.card_number, issuer.version, algorithm
        )
        try:
            layout = issuer.layout
        except LayoutError as exc:
            layout_error: LayoutError | None = exc
        else:
            layout_error = None
            self.tree = _tree(Layout.V2 if layout is Layout.V1 else layout, algorithm)
        if self.hotlist is not None:
            self.hotlist.ensure_clear(issuer.card_number, card_id.hex)
        self.policy.check(issuer, self.clock().date())
        if layout_error is not None:
            raise UnsupportedCardError(str(layout_error)) from layout_error
        return issuer

    def close(self) -> None:
        """Power the card down (and forget its security state)."""
        self.card.power_off()
        self.granted.clear()
        self.pin_verified = False
        self.current_df = None

    @property
    def ctx(self) -> CardContext:
        """The card context (after :meth:`open`)."""
        if self.context is None:
            raise InvalidInputError("the connection is not open")
        return self.context

    @property
    def layout(self) -> Layout:
        """The card's layout version (after :meth:`open`)."""
        assert self.issuer is not None
        return self.issuer.layout

    # -- files ----------------------------------------------------------------------------

    def _select_name(self, name: bytes, what: str) -> bytes:
        response = self.card.send(b.select_by_name(name))
        if response.sw == SW.FUNCTION_NOT_SUPPORTED:
            raise CardBlockedError(response.sw, what)
        if response.sw == SW.APP_BLOCKED:
            raise ApplicationBlockedError(response.sw, what)
        if response.sw != SW.OK:
            raise CardStatusError(response.sw, what)
        return response.data

    def select(self, df: str) -> None:
        """Make ``df`` (``"SSSE"`` or ``"DF04"``…) current; its keys' grants are forgotten."""
        if df == self.current_df:
            return
        if self.tree is None:
            raise InvalidInputError("the connection is not open")
        if df == SSSE:
            self._select_name(b.SSSE_NAME, "SELECT SSSE")
        else:
            try:
                declared = self.tree.df(f"{SSSE}/{df}")
            except KeyError:
                raise InvalidInputError(f"no application {df} in the national tree") from None
            self._select_name(declared.aid, f"SELECT {df}")
        self.current_df = df
        self.granted.clear()

    def ef(self, df: str, ef: int) -> EF:
        """The declaration of ``df``/EF``ef`` (``InvalidInputError`` if the tree has none)."""
        if self.tree is None:
            raise InvalidInputError("the connection is not open")
        path = f"{SSSE}/EF{ef:02X}" if df == SSSE else f"{SSSE}/{df}/EF{ef:02X}"
        try:
            return self.tree.ef(path)
        except KeyError:
            raise InvalidInputError(f"no file {path} in the national tree") from None

    def read_all_records(
        self, sfi: int, items: tuple[DataItem, ...], what: str, *, le: int | None = None
    ) -> bytes:
        """Every record of a file, concatenated (SFI addressing, Part 5 §6.10).

        One READ RECORD "P1 to last" (Le: the declared length of ``items``, or ``le``);
        on a card type that lacks that mode, one READ RECORD per record until ``6A83``.
        """
        if self.card_type not in self.one_record_types:
            expected = min(max(records_length(items), 1), 256) if le is None else le
            command = b.read_record(1, sfi=sfi, mode=b.RecordMode.FROM_RECORD_TO_LAST, le=expected)
            response = self.card.send(command)
            if response.sw == SW.RECORD_NOT_FOUND:
                return b""
            if response.sw == SW.OK:
                return response.data
            if response.sw not in RANGE_REFUSALS:
                raise CardStatusError(response.sw, what)
            self.one_record_types.add(self.card_type)
        data = b""
        for number in range(1, LAST_RECORD + 1):
            response = self.card.send(b.read_record(number, sfi=sfi))
            if response.sw == SW.RECORD_NOT_FOUND:
                break
            if response.sw != SW.OK:
                raise CardStatusError(response.sw, f"{what} (record {number})")
            data += response.data
        return data

    # -- security state -------------------------------------------------------------------

    def _opened_module(self) -> SecurityModule | None:
        if not self._module_opened:
            self._module = self._module_factory()
            self._module_opened = True
        return self._module

    @property
    def module(self) -> SecurityModule:
        """The security module, opened and prepared for this card on first use."""
        module = self._opened_module()
        if module is None:
            raise NoPsamError("no PSAM in the reader and no key service configured")
        if not self._module_ready:
            module.begin(self.ctx)
            self._module_ready = True
        return module

    def has_module(self) -> bool:
        """Whether a security module is (or can be made) available, without raising."""
        try:
            return self._opened_module() is not None
        except SbkcardError:
            return False

    def can_meet(self, access: Access) -> bool:
        """Whether :meth:`require` could meet ``access`` without asking the cardholder."""
        key = access.key
        return permits(
            access.rule,
            lambda: self.pin_verified,
            lambda: key in self.granted or (key is not None and self.has_module()),
        )

    def terminal_number(self) -> str:
        """终端机编号: the security module's (the PSAM's file 0016); the terminal's own
        (:attr:`own_terminal_number`) without one or when the PSAM cannot be opened (the
        HSM functions' case, S3 §10.5)."""
        if not self.has_module():
            return self.own_terminal_number
        assert self._module is not None
        return self._module.terminal_number.hex().upper()

    def authenticate(
        self, key: str | KeySpec, version: int | None = None, *, df: str | None = None
    ) -> bytes:
        """External authentication with ``key`` through the security module (Part 7 §6).

        Selects ``df`` first (by default the key's own DF; an SSSE key such as BK is
        named from an application DF when that DF's rule asks for it, Part 5 table 14);
        returns the authentication data sent.  The card's
        ``63Cx`` (wrong cryptogram) and ``6983`` (key locked) come back as
        :class:`CardStatusError` with their status word.
        """
        spec = key if isinstance(key, KeySpec) else card_key(key)
        if spec.card_kid is None:
            raise InvalidInputError(f"key {spec.name} is not used for external authentication")
        module = self.module
        self.select(df or spec.df)
        card = self.card
        with card.during(f"external authentication ({spec.name})"):
            challenge = card.call(b.get_challenge(CHALLENGE_LENGTH), "GET CHALLENGE")
            original = self.rng(8)
            auth = module.auth_data(self.ctx, spec, version or 1, challenge, original)
            self.present_authentication(spec, auth, original, version)
        return auth

    def present_authentication(
        self, key: KeySpec, auth: bytes, original: bytes, version: int | None = None
    ) -> None:
        """EXTERNAL AUTHENTICATE of the current DF with ``auth`` computed elsewhere (the
        security module, or an HSM in two-step mode); the key counts as granted."""
        if key.card_kid is None:
            raise InvalidInputError(f"key {key.name} is not used for external authentication")
        self.card.call(
            b.external_authenticate(key.card_kid, auth, original, version),
            f"EXTERNAL AUTHENTICATE {key.name}",
        )
        self.granted.add(key.name)

    def pad(self) -> PinPad:
        """The PIN pad (:class:`InvalidInputError` when the terminal has none)."""
        if self.pinpad is None:
            raise InvalidInputError("this operation needs PIN entry; the terminal has no PIN pad")
        return self.pinpad

    def verify_pin(self, pin: Pin | None = None) -> None:
        """VERIFY the PIN (asked on the PIN pad when not given); the PIN never appears.

        ``63Cx`` is :class:`WrongPinError` with the tries left (``63C0``: blocked now),
        ``6983`` :class:`PinBlockedError`.
        """
        if pin is None:
            pin = enter_pin(self.pad(), PinPrompt.ENTER)
        with self.card.during("PIN verification"):
            response = self.card.send(b.verify(pin.reveal()))
        check_pin_status(response.sw, "VERIFY")
        self.pin_verified = True

    def require(self, access: Access, prefer: AuthPreference = AuthPreference.PIN) -> None:
        """Meet ``access`` in the current DF (S3 §2.1.3 step 6)."""
        if access.allows(self.pin_verified, self.granted):
            return
        rule = access.rule
        if rule is Rule.NEVER:
            raise InvalidInputError("the file is maintained by the card's COS only")
        if rule is Rule.PIN:
            self._pin()
            return
        assert access.key is not None
        if rule is Rule.KEY:
            self._key(access.key)
        elif rule is Rule.PIN_AND_KEY:
            self._key(access.key)
            self._pin()
        elif prefer is AuthPreference.PIN:
            self._pin()
        else:
            self._key(access.key)

    def _pin(self) -> None:
        if not self.pin_verified:
            self.verify_pin()

    def _key(self, name: str) -> None:
        if name not in self.granted:
            self.authenticate(name)


def card_type(atr: bytes) -> bytes:
    """The card type: ATR historical bytes T1–T7 (chip provider, COS-defined bytes, card
    manufacturer; Part 2 §8.4 table 16), or the whole ATR if it has no such bytes."""
    try:
        return historical_bytes(atr)[:7] or atr
    except IdentifierError:
        return atr


def check_pin_status(sw: int, command: str) -> None:
    """Raise the PIN error a VERIFY / CHANGE PIN status word means (``9000`` passes)."""
    if sw == SW.OK:
        return
    if sw in (SW.AUTH_BLOCKED, tries_left(0)):
        raise PinBlockedError(sw, command)
    if parse_tries_left(sw) is not None:
        raise WrongPinError(sw, command)
    raise CardStatusError(sw, command)
