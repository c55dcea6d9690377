"""The PSAM as the terminal's security module (Part 9 §7–§9).

:class:`PsamModule` drives a PSAM in the reader's second slot through its commands:

* at power-up it reads the public information (``0015``) and the terminal number
  (``0016``, the 终端机编号 of every national string);
* :meth:`~PsamModule.begin` selects the environment of the card's algorithm (DES: the MF
  "sx1.sh.社会保障"; SM4/SSF33: DDF1 "sx2.sh.社会保障") and its social security ADF
  ``D1 56 00 00 05 90``, then INITIALIZE ENVIRONMENT with the card ID's first byte; a PSAM
  without the SM4/SSF33 environment is :class:`~sbkcard.terminal.errors.PsamAlgorithmError`
  (S3 §1.1.3 step 5, code -2202);
* every cryptogram is DELIVERY SESSION KEY (``BF DE``, factors card level first) then
  CIPHER DATA (``80 FA``), or INIT/CREDIT SAM FOR PURCHASE (``80 70`` / ``80 72``).

Part 9 table B1 gives the maintenance keys (STK) to the PSAM as MAC keys (usage ``26``):
a PSAM can MAC the PIN unblock but cannot encipher the new PIN of a PIN reload; that
case is :class:`~sbkcard.terminal.errors.PsamKeyMissingError` (code -27272), on which
the business system falls back to the HSM functions (S3 §10.5).

Level compatibility (Part 9 §8): the PSAM may hold a key as a national (3
levels to apply), provincial (2) or city (1) root.  :class:`DepthIndex` is the index
table of 方案二, filled the way 方案一 says (try the depths until the PSAM stops answering
``6A80``, 分散级数不符) and kept per PSAM (:class:`~sbkcard.terminal.terminal.Terminal`
keeps it across sessions), so that a PSAM is probed once, not once per key: see its
docstring for how one key's depth predicts the others'.  A key the PSAM does not hold
(``6A88``) is :class:`~sbkcard.terminal.errors.PsamKeyMissingError`; a provincial or
city root cannot serve a card of another province or city (its region is the terminal
number's first six digits, Part 9 §7.3.3): that is
:class:`~sbkcard.terminal.errors.PsamLevelError` (code -24), raised before anything is
sent to the card, so no retry counter of the card is spent on a cryptogram that cannot
be right.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sbkcard.apdu import bodies
from sbkcard.apdu import builders as b
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.errors import NoCardError
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.factors import card_factor, city_factor, province_factor
from sbkcard.keys.hierarchy import KeySpec, card_key
from sbkcard.keys.padding import fold, pad80
from sbkcard.terminal.errors import (
    CardStatusError,
    NoPsamError,
    PsamAlgorithmError,
    PsamKeyMissingError,
    PsamLevelError,
)
from sbkcard.terminal.security.base import (
    CardContext,
    PurchaseInit,
    PurchaseRequest,
)
from sbkcard.terminal.transports.transport import ReaderSession

_Builder = Callable[[int, list[bytes]], CommandAPDU]
"""Builds the command for a usage byte and the factors of one depth."""

LEVEL_MISMATCH = SW.WRONG_DATA
KEY_NOT_FOUND = SW.REF_NOT_FOUND
PUBLIC_INFO = 0x0015
TERMINAL_INFO = 0x0016
DEPTHS = (3, 2, 1)
"""The diversification depths a PSAM key may need, national root first (Part 9 §7.3)."""


class DepthIndex:
    """The diversification depth of one PSAM's keys (Part 9 §8 方案二), learned on use.

    The key table gives each key the level the standard expects a PSAM to hold it at
    (the usage byte's b8–b6, Part 9 table B1: IRK and the read keys as national roots,
    most others as city roots), but a PSAM holds its keys wherever its issuer put them.
    The first guess for a key is

    1. the depth this key was found at;
    2. else the depth found for another key of the same table level (a PSAM places the
       keys of one level alike);
    3. else, when the PSAM has shown that it does not follow the table and every key
       found so far sits at one depth (roots of one level throughout), that depth;
    4. else the table's level;

    then the other depths, national first.  A PSAM that follows table B1 never answers
    ``6A80``; one holding every key at one level answers it only for the first key whose
    table level is not that level.
    """

    def __init__(self) -> None:
        self._keys: dict[tuple[int, int], int] = {}
        self._levels: dict[int, int] = {}

    def known(self, key_type: int, ident: int) -> int | None:
        """The depth key ``key_type``/``ident`` was accepted at, if it was used before."""
        return self._keys.get((key_type, ident))

    def order(self, key_type: int, ident: int, level: int) -> list[int]:
        """The depths to try for a key of the table's ``level``, the best guess first."""
        guess = self._keys.get((key_type, ident), self._levels.get(level))
        if guess is None:
            found = set(self._levels.values())
            uniform = len(found) == 1 and any(d != n for n, d in self._levels.items())
            guess = found.pop() if uniform else level
        return [guess, *(d for d in DEPTHS if d != guess)]

    def learn(self, key_type: int, ident: int, level: int, depth: int) -> None:
        """The PSAM accepted key ``key_type``/``ident`` (table ``level``) at ``depth``."""
        self._keys[key_type, ident] = depth
        self._levels.setdefault(level, depth)


class PsamModule:
    """A PSAM in a reader slot, powered and ready (see the module docstring)."""

    kind = "PSAM"

    def __init__(self, session: ReaderSession, depths: DepthIndex | None = None):
        self.session = session
        self.depths = DepthIndex() if depths is None else depths
        """The depth of each key (pass the same index to every session with one PSAM)."""
        self.public_info = b""
        self._terminal_number = bytes(6)
        self._selected = b""
        """The DF name selected last (the MF "sx1.sh.社会保障" after :meth:`open`)."""

    @property
    def terminal_number(self) -> bytes:
        return self._terminal_number

    @property
    def terminal_region(self) -> str:
        """The PSAM's city: the first six digits of its terminal number."""
        return self._terminal_number[:3].hex().upper()

    def open(self) -> None:
        """Power the PSAM up and read its public information and terminal number."""
        s = self.session
        try:
            s.power_on()
        except NoCardError as exc:
            raise NoPsamError(f"no PSAM in the PSAM slot ({exc})") from exc
        with s.during("PSAM power-up"):
            s.call(b.select_by_name(b.SSSE_NAME), "SELECT PSAM DES environment")
            self._selected = b.SSSE_NAME
            self.public_info = s.call(
                b.read_binary(sfi=PUBLIC_INFO & 0x1F, le=15), "READ BINARY 0015"
            )
            self._terminal_number = s.call(
                b.read_binary(sfi=TERMINAL_INFO & 0x1F, le=6), "READ BINARY 0016"
            )

    def close(self) -> None:
        """Power the PSAM down."""
        self.session.power_off()

    def begin(self, card: CardContext) -> None:
        s = self.session
        with s.during("PSAM environment selection"):
            if card.algorithm is Algorithm.DES:
                if self._selected != b.SSSE_NAME:  # the MF, unless open() left it selected
                    s.call(b.select_by_name(b.SSSE_NAME), "SELECT PSAM DES environment")
            else:
                response = s.send(b.select_by_name(b.PSAM_SSF33_DDF_NAME))
                if response.sw != SW.OK:
                    raise PsamAlgorithmError(
                        f"the PSAM has no {card.algorithm.label} environment "
                        f"(SELECT sx2.sh.社会保障 answered {response.sw:04X})"
                    )
            s.call(b.select_by_name(b.PSAM_ADF_AID), "SELECT PSAM ADF D15600000590")
            self._selected = b.PSAM_ADF_AID
            s.call(b.initialize_environment(card.card_id[0]), "INITIALIZE ENVIRONMENT")

    # -- keys and levels ------------------------------------------------------------------

    def _check_region(self, key: KeySpec, card: CardContext, depth: int) -> None:
        psam_region = self.terminal_region
        if depth == 3 or not psam_region.isdigit() or psam_region == "000000":
            return
        same = card.region[:2] == psam_region[:2] if depth == 2 else card.region == psam_region
        if not same:
            scope = "provincial" if depth == 2 else "city"
            raise PsamLevelError(
                key.name,
                f"the PSAM holds a {scope} root of region {psam_region}, "
                f"the card is from {card.region}",
            )

    def _with_depth(
        self,
        key: KeySpec,
        card: CardContext,
        build: _Builder,
        what: str,
    ) -> bytes:
        """Send the command ``build(usage, factors)`` at the key's depth; its data."""
        if key.psam_usage is None or key.psam_id is None:
            raise PsamKeyMissingError(key.name, "no PSAM key id in the key table")
        key_type, ident, level = key.psam_usage & 0x1F, key.psam_id, key.psam_usage >> 5
        chain = [card_factor(card.atr), city_factor(card.region), province_factor(card.region)]
        known = self.depths.known(key_type, ident)
        if known is not None:
            self._check_region(key, card, known)  # before the PSAM computes anything
        last = 0
        for depth in self.depths.order(key_type, ident, level):
            response = self.session.send(build(depth << 5 | key_type, chain[:depth]))
            last = response.sw
            if response.sw == KEY_NOT_FOUND:
                raise PsamKeyMissingError(
                    key.name, f"PSAM key {key_type:02X}/{ident:02X} not found (6A88)"
                )
            if response.sw == LEVEL_MISMATCH:
                continue
            if response.sw != SW.OK:
                raise CardStatusError(response.sw, what, device=self.session.device)
            self.depths.learn(key_type, ident, level, depth)
            self._check_region(key, card, depth)
            return response.data
        raise PsamLevelError(
            key.name, f"no diversification depth 1–3 accepted by the PSAM (last {last:04X})"
        )

    def _deliver(self, card: CardContext, key: KeySpec, session_input: bytes) -> None:
        size = card.algorithm.block_size
        padded = session_input + bytes(size - len(session_input))
        ident = key.psam_id if key.psam_id is not None else 0

        def build(usage: int, factors: list[bytes]) -> CommandAPDU:
            return b.delivery_session_key(usage, ident, factors, padded)

        self._with_depth(key, card, build, f"DELIVERY SESSION KEY {key.name}")

    def _cipher(self, mode: b.CipherMode, data: bytes, what: str) -> bytes:
        return self.session.call(b.cipher_data(mode, data), what)

    # -- SecurityModule -------------------------------------------------------------------

    def auth_data(
        self, card: CardContext, key: KeySpec, version: int, factor: bytes, original: bytes
    ) -> bytes:
        with self.session.during(f"authentication data ({key.name})"):
            self._deliver(card, key, factor)
            if card.algorithm is Algorithm.DES:
                return self._cipher(b.CipherMode.ENCRYPT_LAST, original, "CIPHER DATA")[:8]
            block = self._cipher(b.CipherMode.ENCRYPT_LAST, original + bytes(8), "CIPHER DATA")
            return fold(block[:16], 8)

    def secure_message(
        self,
        card: CardContext,
        key: KeySpec,
        version: int,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        size = card.algorithm.block_size
        with self.session.during(f"secure messaging ({key.name})"):
            self._deliver(card, key, challenge)
            body = b""
            if plaintext is not None:
                block = pad80(bytes([len(plaintext)]) + plaintext, size, always=False)
                response = self.session.send(b.cipher_data(b.CipherMode.ENCRYPT_LAST, block))
                if response.sw == SW.CONDITIONS_NOT_SATISFIED:
                    raise PsamKeyMissingError(
                        key.name,
                        "the PSAM holds it as a MAC-only key; this command needs "
                        "encryption too (use the HSM functions)",
                    )
                if response.sw != SW.OK:
                    raise CardStatusError(
                        response.sw, "CIPHER DATA (encrypt)", device=self.session.device
                    )
                body = response.data
            data = bytes(size) + pad80(header + body, size)
            mac = self._cipher(b.CipherMode.MAC_SINGLE, data, "CIPHER DATA (MAC)")
            return body + mac[:4]

    def purchase_mac1(
        self, card: CardContext, init: PurchaseInit, request: PurchaseRequest
    ) -> tuple[int, bytes]:
        key = dataclasses.replace(card_key("DPK"), psam_id=init.key_version)

        def build(usage: int, factors: list[bytes]) -> CommandAPDU:
            return b.init_sam_for_purchase(
                card_random=init.random,
                card_sequence=init.seq,
                account=request.account,
                self_paid=request.self_paid,
                pooled=request.pooled,
                transaction_type=request.tx_type,
                time=request.time,
                key_version=init.key_version,
                algorithm=init.algorithm_id,
                factors=factors,
            )

        with self.session.during("INIT SAM FOR PURCHASE"):
            answer = self._with_depth(key, card, build, "INIT SAM FOR PURCHASE")
        try:
            mac1 = bodies.parse(bodies.INIT_SAM_FOR_PURCHASE_ANSWER, answer)
        except bodies.BodyError as exc:
            raise CardStatusError(
                SW.UNKNOWN, "INIT SAM FOR PURCHASE (answer not 8 bytes)", device=self.session.device
            ) from exc
        return mac1.terminal_seq, mac1.mac1

    def check_mac2(self, mac2: bytes) -> None:
        with self.session.during("CREDIT SAM FOR PURCHASE"):
            self.session.call(b.credit_sam_for_purchase(mac2), "CREDIT SAM FOR PURCHASE (MAC2)")
