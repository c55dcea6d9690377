"""Loading a PSAM's key files, and key cards (Part 9 §5.8–§5.10, §7.1.2–§7.1.3, §9.4–§9.6).

A PSAM's card keys go into its key files ``0011``/``0012``/``0013`` only as CREATE KEY
(or CHANGE KEY) commands: after EXTERNAL AUTHENTICATE with the file's authority key
KID-01/02/03, each record ``usage ‖ id ‖ 00 ‖ alg ‖ 00000000 ‖ key`` is encrypted under
the ADF master key (``LD ‖ record``, 80-padded, ECB) and MACed under the same key with
the card's 4-byte challenge as IV (the retail MAC for a double-length DES key). This
module builds those commands with :mod:`sbkcard.apdu.builders` and sends them through
any transport: a simulated PSAM, or a real one in a PC/SC reader.

A *key card* (密钥卡, Part 10 §5.2.5, §6.5.3) is a PSAM carrying a city's keys for its
issuing line: :func:`make_key_card` personalises a blank simulated PSAM with the admin
keys, loads the city's keys into it by those commands and saves its image. Every key
goes into the ceremony's transcript by its KCV.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sbkcard.apdu import CommandAPDU, ResponseAPDU
from sbkcard.apdu.builders import (
    change_key,
    create_key,
    external_authenticate,
    get_challenge,
    select_by_name,
)
from sbkcard.apdu.secure_messaging import wrap
from sbkcard.apdu.t0 import transmit_t0
from sbkcard.applet_model.psam import (
    AdminKeys,
    Authority,
    KeyAlgorithm,
    KeyRecord,
    KeyType,
    card_key_records,
    psam_atr,
    psam_content,
)
from sbkcard.applet_model.psam.key_records import allocation_of
from sbkcard.applet_model.psam.layout import ADF_AID, DES_ENVIRONMENT, environment_for
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm, auth_data, session_key
from sbkcard.keys.hierarchy import CARD_KEYS, KeySet, Level
from sbkcard.keys.store_keyset import StoreKeySet
from sbkcard.keys.transcript import Transcript
from sbkcard.keys.zeroize import random_secret, zeroize
from sbkcard.simulator import SimulatedCard, save_image

__all__ = [
    "CHALLENGE_LENGTH",
    "KeyCard",
    "KeyLoadError",
    "LoadedKey",
    "PsamTransport",
    "key_file_of",
    "load_psam_keys",
    "make_key_card",
    "psam_key_records",
]

CHALLENGE_LENGTH = 4
"""The challenge that becomes the MAC's IV (Part 9 §7.1.3 step 1: 4 bytes ‖ 00×4)."""
AUTH_CHALLENGE_LENGTH = 8


class KeyLoadError(SbkcardError):
    """The PSAM refused a command of the key-loading sequence."""


class PsamTransport(Protocol):
    """What key loading needs of a reader: send a command APDU, get ``data ‖ SW``."""

    def transmit(self, apdu: bytes) -> bytes:
        """Exchange one APDU."""
        ...


@dataclass(frozen=True)
class LoadedKey:
    """One key record that went in: where, what, and its KCV."""

    key_file: int
    key_type: KeyType
    levels: int
    ident: int
    algorithm: KeyAlgorithm
    kcv: str


def key_file_of(record: KeyRecord) -> Authority:
    """The authority whose key file holds ``record`` (Part 9 table A1).

    Purchase keys carry a version, not an identifier, and go to the national file.
    """
    if record.key_type is KeyType.PURCHASE:
        return Authority.NATIONAL
    cell = allocation_of(record.ident)
    if cell is None:
        raise KeyLoadError(f"{record!r}: identifiers C0-FF are reserved (Part 9 table A1)")
    return cell.authority


def psam_key_records(source: KeySet | StoreKeySet, *, level: Level, region: str) -> list[KeyRecord]:
    """The card-key records a level-``level`` PSAM of ``region`` holds.

    From a clear :class:`KeySet` as :func:`~sbkcard.applet_model.psam.card_key_records`
    makes them; from a :class:`StoreKeySet` the keys are derived inside the store (a
    PKCS#11 token's roots included) and only the level keys come out.
    """
    if isinstance(source, KeySet):
        return card_key_records(source, level=level, region=region)
    specs = [
        spec
        for spec in CARD_KEYS
        if spec.psam_usage is not None and spec.psam_id is not None and spec.name in source.labels
    ]
    keys = source.level_keys(region, level, [spec.name for spec in specs])
    try:
        records = []
        for spec in specs:
            key = bytes(keys[spec.name])
            algorithm = KeyAlgorithm.for_key(source.algorithm, key)
            key_type = KeyType((spec.psam_usage or 0) & 0x1F)
            records.append(KeyRecord(key_type, level, spec.psam_id or 0, algorithm, key))
        return records
    finally:
        zeroize(*keys.values())


def _send(transport: PsamTransport, command: CommandAPDU, what: str) -> bytes:
    response = ResponseAPDU.from_bytes(transmit_t0(transport.transmit, bytes(command)))
    if not response.ok:
        raise KeyLoadError(f"{what}: the PSAM answered {response.describe()}")
    return response.data


def _select(transport: PsamTransport, cipher: Algorithm) -> None:
    env = environment_for(cipher)
    if env is not DES_ENVIRONMENT:
        _send(transport, select_by_name(env.ddf_name), f"SELECT {env.label} environment")
    _send(transport, select_by_name(ADF_AID), "SELECT DF01")


def _authenticate(
    transport: PsamTransport, cipher: Algorithm, authority: Authority, key: bytes
) -> None:
    challenge = _send(transport, get_challenge(AUTH_CHALLENGE_LENGTH), "GET CHALLENGE")
    original = bytes(random_secret(8))
    proof = auth_data(session_key(key, challenge, cipher), original, cipher)
    _send(
        transport,
        external_authenticate(authority.auth_kid, proof, original),
        f"EXTERNAL AUTHENTICATE KID-0{authority.auth_kid} ({authority.label})",
    )


def load_psam_keys(
    transport: PsamTransport,
    records: Sequence[KeyRecord],
    *,
    cipher: Algorithm,
    admin: AdminKeys,
    transcript: Transcript,
    operator: str,
    change: bool = False,
) -> list[LoadedKey]:
    """Write ``records`` into a powered PSAM's key files (CREATE KEY, or CHANGE KEY).

    ``admin`` holds the PSAM's ADF master key and KID-01…03 of the ``cipher``
    environment. Stops with :class:`KeyLoadError` at the first refusal (recorded).
    """
    _select(transport, cipher)
    by_file: dict[Authority, list[KeyRecord]] = {}
    for record in records:
        by_file.setdefault(key_file_of(record), []).append(record)
    loaded: list[LoadedKey] = []
    env = environment_for(cipher)
    try:
        for authority in sorted(by_file, key=lambda a: a.value):
            _authenticate(transport, cipher, authority, admin.auth[authority.value - 1])
            for record in by_file[authority]:
                challenge = _send(transport, get_challenge(CHALLENGE_LENGTH), "GET CHALLENGE")
                plain = record.change_data() if change else record.to_bytes()
                build = change_key if change else create_key
                command = wrap(
                    build(authority.key_file, plain),
                    admin.master,
                    cipher,
                    encrypt=True,
                    iv=challenge,
                )
                name = "CHANGE KEY" if change else "CREATE KEY"
                _send(transport, command, f"{name} {record!r} into {authority.key_file:04X}")
                item = LoadedKey(
                    authority.key_file,
                    record.key_type,
                    record.levels,
                    record.ident,
                    record.algorithm,
                    record.check_value,
                )
                loaded.append(item)
                transcript.record(
                    "PSAM key loaded",
                    operator,
                    environment=env.label,
                    key_file=f"{authority.key_file:04X}",
                    usage=f"{record.usage:02X}",
                    ident=f"{record.ident:02X}",
                    algorithm=record.algorithm.name,
                    kcv=item.kcv,
                    command=name,
                )
    except SbkcardError as exc:
        transcript.record("PSAM key loading failed", operator, reason=str(exc), loaded=len(loaded))
        raise
    return loaded


@dataclass
class KeyCard:
    """A key card made by :func:`make_key_card`."""

    path: str
    atr: bytes
    serial: str
    terminal_number: str
    level: Level
    keys: list[LoadedKey] = field(default_factory=list)


def make_key_card(
    out: str | os.PathLike[str],
    source: KeySet | StoreKeySet,
    *,
    level: Level,
    terminal_number: str,
    serial: str,
    admin: AdminKeys,
    transcript: Transcript,
    operator: str,
) -> KeyCard:
    """A simulated PSAM image holding ``source``'s keys at ``level`` for the terminal's city.

    The PSAM is personalised blank (files and admin keys only), then every key record
    is loaded through CREATE KEY as on a personalisation machine; the image is written
    to ``out``.
    """
    cipher = source.algorithm
    region = terminal_number[:6]
    records = psam_key_records(source, level=level, region=region)
    content = psam_content(
        KeySet(cipher, {}),
        level=level,
        terminal_number=terminal_number,
        serial=serial,
        admin={cipher: admin},
    )
    atr = psam_atr(terminal_number, serial)
    card = SimulatedCard.create("psam", content, atr)
    card.power_on()
    try:
        loaded = load_psam_keys(
            card, records, cipher=cipher, admin=admin, transcript=transcript, operator=operator
        )
    finally:
        card.power_off()
    save_image(card, out)
    transcript.record(
        "key card made",
        operator,
        image=os.path.basename(out),
        atr=atr.hex().upper(),
        serial=serial,
        terminal_number=terminal_number,
        level=int(level),
        environment=environment_for(cipher).label,
        key_count=len(loaded),
        admin_kcvs=admin.check_values(cipher),
    )
    return KeyCard(os.fspath(out), atr, serial, terminal_number, level, loaded)
