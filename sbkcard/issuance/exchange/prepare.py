"""Data preparation: one card's personalisation data, a pure function (Part 10 §5.3, §6.1.2).

For every reserved card (:class:`PrepItem`): its factors (region, the ATR the card
identification code gives) → its keys, diversified from the issuer's roots → its data
records (SSSE EF05, EF06, DF04 EF05 when the applicant brings medical items) → each key
as ciphertext under the batch transport key (Part 4 data encryption, ``LD ‖ key``,
80-padded, ECB) and one MAC under the same key over the card's entry (§6.1.2 item 3:
keys travel "由传输密钥保护以密文带安全报文（MAC）的形式"). A card's entry is::

    u32 n ‖ meta (canonical JSON: number, card id, ATR, issue date, applicant, records)
    ‖ u16 n ‖ key ciphertext (one block group per key of :func:`key_layout`)
    ‖ u8 n ‖ MAC (Part 4 MAC over meta ‖ ciphertext, zero IV)

:func:`prepare_partition` makes the entries of many cards at once — one ECB call per
key name for the derivation, one for all the ciphertexts — and depends only on its
inputs: the same cards give the same bytes in any process. :func:`open_entry` is the
bureau's inverse (MAC checked, keys decrypted).

Which keys a process holds (:class:`PrepKeys`): the issuer's roots as its key store
gives them — in clear from a software store whose roots are extractable (or the
published TEST set), or a handle on a token that derives each card's keys inside it —
and the batch transport key. A worker process opens the store itself
(:func:`worker_keys`), with the passphrase or PIN from its own environment: the job
sent to it (:class:`PrepJob`) names the store and labels, never a key.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sbkcard.applet_model.records import FileContent, IssuerData, encode_file
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.user_card import PROFILES, Profile
from sbkcard.applet_model.user_card.personalise import demo_transport_key
from sbkcard.identifiers.card_id import CardId
from sbkcard.issuance.applicants import Action, Applicant, MedicalItems
from sbkcard.issuance.exchange.parties import ExchangeError
from sbkcard.issuance.personalise import CARD_TYPE, CardOrder, derive_keys
from sbkcard.keys import Algorithm, decrypt_data, encrypt_block, kcv, mac
from sbkcard.keys.hierarchy import CARD_KEYS, KeySet
from sbkcard.keys.padding import pad80
from sbkcard.keys.passphrase import PASSPHRASE_ENV
from sbkcard.keys.store_keyset import IssuerKeys, is_demo, issuer_keys, transport_key
from sbkcard.keys.zeroize import wiped

__all__ = [
    "CardEntry",
    "PrepItem",
    "PrepJob",
    "PrepKeys",
    "card_records",
    "iter_entries",
    "key_layout",
    "open_entry",
    "open_keys",
    "prepare_partition",
    "worker_keys",
]

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


@dataclass(frozen=True)
class PrepItem:
    """One reserved card to prepare: the applicant and the registry's reservation."""

    applicant: Applicant
    card_number: str
    card_id: CardId
    issue_date: datetime.date

    def order(self, profile: Profile) -> CardOrder:
        """The card's order (initial PIN, as ``sbkcard issue`` writes it)."""
        return CardOrder(self.applicant, self.card_number, self.card_id, profile, self.issue_date)


@dataclass(frozen=True)
class PrepKeys:
    """What preparing a batch needs: the issuer's keys and the batch transport key."""

    keyset: IssuerKeys
    transport_key: bytes

    @property
    def algorithm(self) -> Algorithm:
        """DES or SM4, the key set's."""
        return self.keyset.algorithm

    @property
    def transport_kcv(self) -> str:
        """The transport key's KCV, which the bureau compares with its own."""
        return kcv(self.transport_key, self.algorithm).hex().upper()


@dataclass(frozen=True)
class PrepJob:
    """What a worker is told about the batch: the key store and labels, never a key.

    ``keys`` is ``demo`` or a key store (software path, ``pkcs11:token=…``) that the
    worker opens with the passphrase in its own ``$passphrase_env``.
    """

    keys: str
    transport_label: str | None
    batch: str
    generation: int
    passphrase_env: str = PASSPHRASE_ENV

    @property
    def profile(self) -> Profile:
        """The card profile of the batch."""
        return PROFILES[self.generation]


_OPEN: dict[PrepJob, PrepKeys] = {}
_STACK = ExitStack()


def open_keys(job: PrepJob, stack: ExitStack, passphrase: str | None = None) -> PrepKeys:
    """The issuer keys and batch transport key ``job`` names, the store kept open on ``stack``.

    As ``sbkcard issue``: the demo set has its own transport key; a store gives the key
    under ``transport_label`` (or, a token, one diversified for the batch inside it).
    """
    algorithm = job.profile.algorithm
    keyset, store = stack.enter_context(issuer_keys(job.keys, passphrase, algorithm=algorithm))
    if store is None:
        if job.transport_label:
            raise ExchangeError("--transport-key: the demo key set has its own transport key")
        if keyset.algorithm is not algorithm:
            raise ExchangeError(
                f"--keys {job.keys}: profile {job.generation} needs {algorithm.name}"
            )
        return PrepKeys(keyset, demo_transport_key(algorithm))
    if not job.transport_label:
        raise ExchangeError("--transport-key LABEL: name the batch's transport key in the store")
    with wiped(transport_key(store, job.transport_label, job.batch)) as key:
        return PrepKeys(keyset, bytes(key))


def worker_keys(job: PrepJob) -> PrepKeys:
    """This process's keys for ``job``, opened on first use and kept for the process's life."""
    keys = _OPEN.get(job)
    if keys is None:
        passphrase = None if is_demo(job.keys) else os.environ.get(job.passphrase_env)
        keys = _OPEN[job] = open_keys(job, _STACK, passphrase)
    return keys


def key_layout(keys: PrepKeys) -> list[tuple[str, int]]:
    """The keys every card receives, in the order of the key table (Part 10 §5.2.5), with
    their lengths in bytes (a single-length DES key is 8)."""
    keyset = keys.keyset
    if isinstance(keyset, KeySet):
        lengths = {name: len(root) for name, root in keyset.roots.items()}
    else:
        lengths = {name: keyset.store.info(label).length for name, label in keyset.labels.items()}
    return [(spec.name, lengths[spec.name]) for spec in CARD_KEYS if spec.name in lengths]


def card_records(order: CardOrder) -> dict[str, bytes]:
    """The data records of ``order`` as the card stores them, by file path."""
    profile, card_id = order.profile, order.card_id
    layout = profile.layout
    issuer = IssuerData(
        card_id,
        CARD_TYPE,
        profile.version,
        f"9156000002{card_id.region}{card_id.region}01",
        order.issue_date,
        order.expiry,
        order.card_number,
    )
    records = {
        "SSSE/EF05": issuer.encode(layout),
        "SSSE/EF06": order.cardholder().encode(layout),
    }
    for path, content in order.files().items():
        records[path] = _encoded_file(path, content, layout)
    return records


@functools.lru_cache(maxsize=4096)
def _encoded_file(path: str, content: FileContent, layout: Layout) -> bytes:
    """A file's encoding; the medical items repeat across a batch, so it is remembered."""
    return encode_file(path, content, layout)


def _applicant(a: Applicant) -> dict[str, Any]:
    out: dict[str, Any] = {
        "line": a.line,
        "ssn": a.ssn,
        "name": a.name,
        "gender": a.gender,
        "ethnicity": a.ethnicity,
        "birthplace": a.birthplace,
        "birth_date": a.birth_date.isoformat(),
        "region": a.region,
    }
    if a.medical is not None:
        out["medical"] = [
            a.medical.insurance_type,
            a.medical.insured_region,
            a.medical.personnel_category,
        ]
    return out


def _key_blocks(
    cards: Sequence[dict[str, bytes]], names: Sequence[str], algorithm: Algorithm
) -> bytes:
    """Every key's ``LD ‖ key`` block, 80-padded as :func:`~sbkcard.keys.encrypt_data` pads it."""
    frames: dict[int, tuple[bytes, bytes]] = {}
    out: list[bytes] = []
    for card in cards:
        for name in names:
            key = card[name]
            frame = frames.get(len(key))
            if frame is None:
                padded = pad80(bytes((len(key),)) + key, algorithm.block_size, always=False)
                frame = frames[len(key)] = (padded[:1], padded[1 + len(key) :])
            out += (frame[0], key, frame[1])
    return b"".join(out)


def prepare_partition(keys: PrepKeys, profile: Profile, items: Sequence[PrepItem]) -> bytes:
    """The entries of ``items``, concatenated in order (see the module docstring)."""
    algorithm = keys.algorithm
    orders = [item.order(profile) for item in items]
    derived = derive_keys(keys.keyset, orders)
    names = [name for name, _ in key_layout(keys)]
    plain = _key_blocks(derived, names, algorithm)
    cipher = encrypt_block(keys.transport_key, plain, algorithm) if plain else b""
    per_card = len(cipher) // max(len(items), 1)
    out = bytearray()
    for index, order in enumerate(orders):
        meta = {
            "number": order.card_number,
            "card_id": order.card_id.hex,
            "atr": order.atr.hex().upper(),
            "issue_date": order.issue_date.isoformat(),
            "applicant": _applicant(order.applicant),
            "records": {p: r.hex().upper() for p, r in card_records(order).items()},
        }
        body = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ciphertext = cipher[index * per_card : (index + 1) * per_card]
        tag = mac(keys.transport_key, body + ciphertext, algorithm)
        out += _U32.pack(len(body)) + body + _U16.pack(len(ciphertext)) + ciphertext
        out += bytes((len(tag),)) + tag
    return bytes(out)


@dataclass(frozen=True)
class CardEntry:
    """One card's entry as the bureau reads it (keys not yet decrypted)."""

    meta: dict[str, Any]
    body: bytes
    ciphertext: bytes
    tag: bytes

    @property
    def card_number(self) -> str:
        """The card number (社会保障卡卡号)."""
        return str(self.meta["number"])

    def item(self) -> PrepItem:
        """The reservation and applicant the entry carries."""
        a = self.meta["applicant"]
        medical = MedicalItems(*a["medical"]) if "medical" in a else None
        applicant = Applicant(
            a["line"],
            a["ssn"],
            a["name"],
            a["gender"],
            a["ethnicity"],
            a["birthplace"],
            datetime.date.fromisoformat(a["birth_date"]),
            a["region"],
            medical,
            Action.NEW,
        )
        return PrepItem(
            applicant,
            self.card_number,
            CardId.from_hex(self.meta["card_id"]),
            datetime.date.fromisoformat(self.meta["issue_date"]),
        )

    def records(self) -> dict[str, bytes]:
        """The records the issuer prepared, by file path."""
        return {path: bytes.fromhex(r) for path, r in self.meta["records"].items()}


def iter_entries(part: bytes) -> Iterator[CardEntry]:
    """The card entries of one prepared part."""
    offset = 0
    try:
        while offset < len(part):
            (size,) = _U32.unpack_from(part, offset)
            body = part[offset + 4 : offset + 4 + size]
            offset += 4 + size
            (size,) = _U16.unpack_from(part, offset)
            ciphertext = part[offset + 2 : offset + 2 + size]
            offset += 2 + size
            tag = part[offset + 1 : offset + 1 + part[offset]]
            offset += 1 + part[offset]
            yield CardEntry(json.loads(body), body, ciphertext, tag)
    except (struct.error, IndexError, ValueError) as exc:
        raise ExchangeError(f"a prepared part is malformed at byte {offset} ({exc})") from None


def open_entry(
    entry: CardEntry, transport: bytes, algorithm: Algorithm, layout: Sequence[tuple[str, int]]
) -> dict[str, bytes]:
    """The card's keys: the MAC checked and every key decrypted under the transport key."""
    if mac(transport, entry.body + entry.ciphertext, algorithm) != entry.tag:
        raise ExchangeError(
            f"card {entry.card_number}: the MAC does not verify under the transport key"
        )
    size = algorithm.block_size
    spans = [-(-(1 + length) // size) * size for _, length in layout]
    if sum(spans) != len(entry.ciphertext):
        raise ExchangeError(f"card {entry.card_number}: the key ciphertext has the wrong length")
    keys: dict[str, bytes] = {}
    offset = 0
    for (name, _), span in zip(layout, spans, strict=True):
        keys[name] = decrypt_data(transport, entry.ciphertext[offset : offset + span], algorithm)
        offset += span
    return keys
