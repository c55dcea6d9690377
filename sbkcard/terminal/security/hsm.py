"""HSM mode: a key service in place of the PSAM (S3 §10.5, App. B, App. C).

When the counter has no PSAM (or the PSAM lacks a key or a level), the business system
sends the card's challenges to the ministry's or the province's HSM through the card
holder database (持卡库) and feeds the answers back to the reader: the national
interface's ``*_HSM_Step*`` functions.  :class:`KeyService` is that HSM as this project
sees it: a few primitive computations addressed by the key logical addresses of S3
App. B, diversified for one card (region → province and city factors, ATR → card
factor, Part 9 §7.3).

* :class:`SoftwareKeyService` answers in software under the national roots of a
  :class:`~sbkcard.keys.hierarchy.KeySet` (the demo key set by default: published TEST
  keys) or of a :class:`~sbkcard.keys.store_keyset.StoreKeySet`, whose roots stay in
  their key store (a PKCS#11 token);
* :class:`HsmModule` makes any key service a
  :class:`~sbkcard.terminal.security.base.SecurityModule`,
  so every terminal operation runs without a PSAM.

No key ever leaves a key service: callers get authentication data, MACs and ciphertexts.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Protocol

from sbkcard.apdu.status import SW
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.encryption import encrypt_data
from sbkcard.keys.errors import CryptoError, UnknownKeyError
from sbkcard.keys.hierarchy import KeySet, KeySpec, card_key, demo_keyset, derive_card_keys
from sbkcard.keys.mac import mac, tac
from sbkcard.keys.session import auth_data, session_key
from sbkcard.keys.store import KeyStoreError
from sbkcard.keys.store_keyset import IssuerKeys, StoreKeySet
from sbkcard.keys.zeroize import zeroize
from sbkcard.terminal.errors import CardStatusError, KeyServiceError, PsamAlgorithmError
from sbkcard.terminal.security.base import (
    CardContext,
    PurchaseInit,
    PurchaseRequest,
    hsm_address,
    key_at_address,
)


class KeyService(Protocol):
    """An HSM's computations for one card, keys named by their S3 App. B address."""

    @property
    def algorithms(self) -> frozenset[Algorithm]:
        """The algorithms the service holds keys of (DES, SM4)."""
        ...

    def auth_data(self, card: CardContext, address: str, factor: bytes, original: bytes) -> bytes:
        """Authentication data (Part 4 §9.3) under the card key at ``address``."""
        ...

    def secure_message(
        self,
        card: CardContext,
        address: str,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        """``[E(SK, LD ‖ plaintext)] ‖ MAC`` for a secure-messaging command (Part 4 §8.2–8.3)."""
        ...

    def session_mac(
        self, card: CardContext, address: str, session_input: bytes, data: bytes
    ) -> bytes:
        """MAC of ``data`` under the session key of ``session_input`` (MAC1/MAC2, Part 7 §12)."""
        ...

    def tac(self, card: CardContext, address: str, data: bytes) -> bytes:
        """TAC of ``data`` under the card's DTK directly (Part 7 §15)."""
        ...


class SoftwareKeyService:
    """A key service computing in software under key sets' roots (one set per algorithm).

    By default the demo key sets of DES and SM4 (published TEST keys).  The roots are
    national-level roots; every answer is computed under the card's own key (root →
    province → city → card, Part 9 §7.3).  The roots of a
    :class:`~sbkcard.keys.store_keyset.StoreKeySet` never leave their store: for each
    answer the store (a PKCS#11 token) derives the one card key needed.  ``repr`` shows
    KCVs or the store only.
    """

    def __init__(self, keysets: IssuerKeys | Sequence[IssuerKeys] | None = None) -> None:
        if keysets is None:
            keysets = [demo_keyset(Algorithm.DES), demo_keyset(Algorithm.SM4)]
        elif isinstance(keysets, KeySet | StoreKeySet):
            keysets = [keysets]
        self.keysets = {keys.algorithm: keys for keys in keysets}
        if len(self.keysets) != len(keysets) or not keysets:
            raise ValueError("give one key set per algorithm")

    @property
    def algorithms(self) -> frozenset[Algorithm]:
        return frozenset(self.keysets)

    def __repr__(self) -> str:
        sets = [
            repr(keys)
            if isinstance(keys, KeySet)
            else f"{keys.algorithm.name} roots in {keys.store.description}"
            for keys in self.keysets.values()
        ]
        return f"SoftwareKeyService([{', '.join(sets)}])"

    def _card_key(self, card: CardContext, address: str) -> tuple[KeySpec, bytes]:
        keyset = self.keysets.get(card.algorithm)
        if keyset is None:
            raise PsamAlgorithmError(
                f"the key service holds no {card.algorithm.label} keys (the card's algorithm)"
            )
        try:
            spec, _version = key_at_address(address)
            if isinstance(keyset, KeySet):
                key = derive_card_keys(keyset, card.region, card.atr, [spec.name])[spec.name]
            else:
                derived = keyset.card_keys(card.region, card.atr, [spec.name])
                key = bytes(derived[spec.name])
                zeroize(*derived.values())
        except (ValueError, UnknownKeyError, KeyStoreError) as exc:
            raise KeyServiceError(f"key service: {exc}") from exc
        except CryptoError as exc:
            raise KeyServiceError(f"key service: cannot derive key {address}: {exc}") from exc
        return spec, key

    def auth_data(self, card: CardContext, address: str, factor: bytes, original: bytes) -> bytes:
        _spec, key = self._card_key(card, address)
        alg = card.algorithm
        try:
            return auth_data(session_key(key, factor, alg), original, alg)
        except CryptoError as exc:
            raise KeyServiceError(f"key service: authentication data: {exc}") from exc

    def secure_message(
        self,
        card: CardContext,
        address: str,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        _spec, key = self._card_key(card, address)
        alg = card.algorithm
        try:
            sk = session_key(key, challenge, alg)
            body = encrypt_data(sk, plaintext, alg) if plaintext is not None else b""
        except CryptoError as exc:
            raise KeyServiceError(f"key service: secure messaging: {exc}") from exc
        if len(header) != 5 or header[4] != len(body) + 4:
            raise KeyServiceError(
                f"secure messaging header {header.hex().upper()}: Lc must be "
                f"{len(body) + 4:02X} (data and MAC)"
            )
        return body + mac(sk, header + body, alg)

    def session_mac(
        self, card: CardContext, address: str, session_input: bytes, data: bytes
    ) -> bytes:
        _spec, key = self._card_key(card, address)
        try:
            alg = card.algorithm
            return mac(session_key(key, session_input, alg), data, alg)
        except CryptoError as exc:
            raise KeyServiceError(f"key service: MAC: {exc}") from exc

    def tac(self, card: CardContext, address: str, data: bytes) -> bytes:
        _spec, key = self._card_key(card, address)
        return tac(key, data, card.algorithm)


class HsmModule:
    """A :class:`~sbkcard.terminal.security.base.SecurityModule` over a :class:`KeyService`.

    Without a PSAM the terminal number is twelve zeros (S3 §1.3.2) unless one is given;
    the terminal transaction sequence of purchases is kept here, starting at ``1``.
    """

    kind = "HSM"

    def __init__(
        self,
        service: KeyService,
        *,
        terminal_number: bytes = bytes(6),
        transaction_seq: int = 1,
    ) -> None:
        if len(terminal_number) != 6:
            raise ValueError("terminal number: 6 bytes (cn 12 digits)")
        self.service = service
        self._terminal_number = terminal_number
        self.transaction_seq = transaction_seq
        self._pending: tuple[CardContext, str, bytes, bytes] | None = None

    @property
    def terminal_number(self) -> bytes:
        return self._terminal_number

    def begin(self, card: CardContext) -> None:
        if card.algorithm not in self.service.algorithms:
            raise PsamAlgorithmError(f"the HSM holds no {card.algorithm.label} keys")

    def auth_data(
        self, card: CardContext, key: KeySpec, version: int, factor: bytes, original: bytes
    ) -> bytes:
        return self.service.auth_data(card, hsm_address(key, version), factor, original)

    def secure_message(
        self,
        card: CardContext,
        key: KeySpec,
        version: int,
        challenge: bytes,
        header: bytes,
        plaintext: bytes | None,
    ) -> bytes:
        address = hsm_address(key, version)
        return self.service.secure_message(card, address, challenge, header, plaintext)

    def purchase_mac1(
        self, card: CardContext, init: PurchaseInit, request: PurchaseRequest
    ) -> tuple[int, bytes]:
        seq = self.transaction_seq
        self.transaction_seq += 1
        address = hsm_address(card_key("DPK"), init.key_version)
        session_input = init.session_input(seq)
        mac1 = self.service.session_mac(card, address, session_input, request.mac1_input)
        self._pending = (card, address, session_input, request.amounts)
        return seq, mac1

    def check_mac2(self, mac2: bytes) -> None:
        if self._pending is None:
            raise CardStatusError(SW.INVALID_STATE, "MAC2 check without a purchase", device="HSM")
        card, address, session_input, amounts = self._pending
        self._pending = None
        expected = self.service.session_mac(card, address, session_input, amounts)
        if not hmac.compare_digest(expected, mac2):
            raise CardStatusError(SW.PSAM_MAC2_INVALID, "MAC2 check", device="HSM")
