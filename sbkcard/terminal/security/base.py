"""Who computes the cryptograms: the card context and the security-module interface.

A terminal authenticates cards and itself through a *security module*: the PSAM in the
reader's second slot (:mod:`sbkcard.terminal.security.sam`) or an HSM reached through a key
service (:mod:`sbkcard.terminal.security.hsm`).  Both implement :class:`SecurityModule`, so the
operations of :mod:`sbkcard.terminal.operations` run unchanged on either (S3 §10.5: the
PSAM path first, the HSM path as its fallback).

:class:`CardContext` is what the key hierarchy needs to know about the card in the
reader (Part 9 §7.3): the algorithm of its SSSE (FCI tag ``86``), its ATR (card factor)
and its card identification code (region → province and city factors).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from construct import Container

from sbkcard.apdu import bodies
from sbkcard.identifiers.atr import historical_bytes
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.hierarchy import CARD_KEYS, KeySpec


@dataclass(frozen=True)
class CardContext:
    """The card in the reader as the key hierarchy sees it."""

    atr: bytes
    card_id: bytes
    card_number: str
    version: str
    algorithm: Algorithm

    @property
    def region(self) -> str:
        """The issuing region: the first 6 digits of the card identification code."""
        return self.card_id[:3].hex().upper()

    @property
    def card_id_hex(self) -> str:
        """The card identification code as 32 upper-case hex characters."""
        return self.card_id.hex().upper()

    @property
    def history(self) -> bytes:
        """The ATR's historical bytes (卡复位信息 of the national strings)."""
        return historical_bytes(self.atr)

    @property
    def generation(self) -> int:
        """1, 2 or 3 from the spec version's first digit (S3 §10.2; empty means 1.0x)."""
        return int(self.version[0]) if self.version[:1].isdigit() else 1


@dataclass(frozen=True)
class PurchaseInit:
    """The card's answer to INITIALIZE FOR PURCHASE (Part 5 §7.6), plus the request's amounts."""

    balance: int
    spip: int
    spfp: int
    year: int
    seq: int
    key_version: int
    algorithm_id: int
    random: bytes

    @classmethod
    def of(cls, answer: Container) -> PurchaseInit:
        """The answer read as :data:`sbkcard.apdu.bodies.INITIALIZE_FOR_PURCHASE_ANSWER`."""
        return cls(
            balance=answer.balance,
            spip=answer.spip,
            spfp=answer.spfp,
            year=int(answer.year),
            seq=answer.seq,
            key_version=answer.key_version,
            algorithm_id=answer.algorithm,
            random=answer.random,
        )

    def session_input(self, terminal_seq: int) -> bytes:
        """SESPK's input: card random ‖ purchase seq ‖ terminal seq's last 2 bytes (§12.3)."""
        return bodies.build(
            bodies.PURCHASE_SESSION_INPUT,
            random=self.random,
            seq=self.seq,
            terminal_seq=terminal_seq.to_bytes(4)[-2:],
        )


@dataclass(frozen=True)
class PurchaseRequest:
    """What MAC1 covers (Part 7 §12.3): amounts in fen, type, terminal number, terminal time."""

    account: int
    self_paid: int
    pooled: int
    tx_type: int
    terminal_number: bytes
    time: dt.datetime

    @property
    def amounts(self) -> bytes:
        """Account amount ‖ self-paid ‖ pooled: MAC2's input (Part 7 §12.6)."""
        return bodies.build(bodies.PURCHASE_AMOUNTS, **self._fields())

    @property
    def mac1_input(self) -> bytes:
        """MAC1's input (Part 7 §12.3): amounts ‖ type ‖ terminal number ‖ time."""
        return bodies.build(bodies.PURCHASE_MAC1_INPUT, **self._fields())

    def _fields(self) -> dict[str, object]:
        """The request as the fields of :mod:`sbkcard.apdu.bodies` name them."""
        return {
            "account": self.account,
            "self_paid": self.self_paid,
            "pooled": self.pooled,
            "kind": self.tx_type,
            "terminal": self.terminal_number,
            "time": self.time.strftime("%Y%m%d%H%M%S"),
        }


#: Keys whose versions are not consecutive addresses: DPK versions 1–3 each have three
#: groups (组数) of their own (S3 table B.1: 017F–0181, 0199–019B, 019C–019E).
_VERSION_BASES = {"DPK": ("017F", "0199", "019C")}
_GROUPS = 3


def hsm_address(key: KeySpec, version: int) -> str:
    """The key's logical address for ``version`` (S3 App. B), group 1 for DPK."""
    if key.hsm_address is None:
        raise ValueError(f"key {key.name} has no HSM logical address")
    if not 1 <= version <= key.versions:
        raise ValueError(f"key {key.name} has versions 1..{key.versions}, not {version}")
    bases = _VERSION_BASES.get(key.name)
    if bases is not None:
        return bases[version - 1]
    return f"{int(key.hsm_address, 16) + version - 1:04X}"


def _addresses() -> dict[int, tuple[KeySpec, int]]:
    """Every address of S3 App. B → (key, version): :func:`hsm_address` inverted."""
    table: dict[int, tuple[KeySpec, int]] = {}
    for key in CARD_KEYS:
        if key.hsm_address is None:
            continue
        groups = _GROUPS if key.name in _VERSION_BASES else 1
        for version in range(1, key.versions + 1):
            first = int(hsm_address(key, version), 16)
            for address in range(first, first + groups):
                table.setdefault(address, (key, version))
    return table


_KEYS_BY_ADDRESS = _addresses()


def key_at_address(address: str) -> tuple[KeySpec, int]:
    """The key and version at an HSM logical address such as ``"004D"`` (RKSSSE v2)."""
    try:
        value = int(address, 16)
    except ValueError:
        raise ValueError(f"HSM key address must be 4 hex digits, got {address!r}") from None
    found = _KEYS_BY_ADDRESS.get(value)
    if found is None:
        raise ValueError(f"no key of S3 App. B at address {address!r}")
    return found


class SecurityModule(Protocol):
    """The PSAM or HSM side of every cryptogram a terminal needs."""

    kind: str
    """``"PSAM"`` or ``"HSM"`` (for messages and traces)."""

    @property
    def terminal_number(self) -> bytes:
        """终端机编号: 6 bytes cn (the PSAM's file 0016; zeros without a PSAM, S3 §1.3.2)."""
        ...

    def begin(self, card: CardContext) -> None:
        """Prepare for ``card`` (select the environment of its algorithm; initialise)."""
        ...

    def auth_data(
        self, card: CardContext, key: KeySpec, version: int, factor: bytes, original: bytes
    ) -> bytes:
        """Authentication data of ``original`` under the session key of ``factor`` (Part 4 §9.3).

        For internal authentication this is what the card must answer; for external
        authentication it is what the terminal sends.
        """
        ...

    def secure_message(
        self,
        card: CardContext,
        key: KeySpec,
        version: int,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        """The data field of a secure-messaging command (Part 4 §8.2–8.3).

        ``header`` is ``CLA INS P1 P2 Lc`` (Lc counting the MAC); ``plaintext`` is
        encrypted as ``LD ‖ data`` first when given; the MAC covers header ‖ ciphertext.
        """
        ...

    def purchase_mac1(
        self, card: CardContext, init: PurchaseInit, request: PurchaseRequest
    ) -> tuple[int, bytes]:
        """(terminal transaction sequence, MAC1) for a medical purchase (Part 7 §12.3)."""
        ...

    def check_mac2(self, mac2: bytes) -> None:
        """Verify the card's MAC2 of the purchase just made; raise if it is wrong."""
        ...
