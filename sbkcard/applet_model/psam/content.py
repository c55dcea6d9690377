"""A PSAM's initial storage: files, key records and its own keys (Part 9 §5–§6, annex B).

:func:`psam_content` personalises a PSAM from the issuer's :class:`~sbkcard.keys.hierarchy.KeySet`
(one per algorithm environment).  A PSAM at diversification level *L* holds every card key
of :data:`~sbkcard.keys.hierarchy.CARD_KEYS` that has a PSAM identifier as the key
``level_key(keyset, name, region, L)`` with usage ``L << 5 | type``: ``3`` a national
root (the PSAM applies the province, city and card factors), ``2`` a provincial root,
``1`` a city root, ``region`` being the city of the terminal number (Part 9 §7.3.3).

A key's record goes to the key file of the authority its identifier is allocated to
(Part 9 table A1); purchase keys, whose identifier byte is a version, go to the national
key file.  The PSAM's own keys, the ADF master key (which encrypts and MACs CREATE/CHANGE
KEY) and KID-01…03 (whose external authentication opens key file 0011/0012/0013), are
per environment: pass your own as ``admin``, or get the published TEST keys of
:func:`demo_admin_keys`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sbkcard.apdu.tlv import build_ber_tlv
from sbkcard.applet_model.psam.applet import AUTH_KEY_TRIES
from sbkcard.applet_model.psam.errors import PsamError
from sbkcard.applet_model.psam.files import (
    ApplicationInfo,
    PublicInfo,
    TerminalInfo,
    encode_sequence,
)
from sbkcard.applet_model.psam.key_records import (
    Authority,
    KeyAlgorithm,
    KeyHolder,
    KeyRecord,
    KeyType,
    allocation_of,
)
from sbkcard.applet_model.psam.layout import (
    ADF_AID,
    DES_ENVIRONMENT,
    SM4_ENVIRONMENT,
    Environment,
    environment_for,
)
from sbkcard.identifiers.atr import make_atr
from sbkcard.keys import Algorithm, kcv, sm3
from sbkcard.keys.hierarchy import CARD_KEYS, DEMO_LABEL, KeySet, demo_keyset, level_key

__all__ = [
    "DEMO_APPLICATION_INFO",
    "DEMO_SERIAL",
    "DEMO_TERMINAL_NUMBER",
    "DIR_LABEL",
    "AdminKeys",
    "card_key_records",
    "demo_admin_keys",
    "psam_atr",
    "psam_content",
]

DEMO_TERMINAL_NUMBER = "410100000001"
"""郑州市 (410100), terminal 000001."""
DEMO_SERIAL = "41010020240101000001"
"""A demo PSAM serial (cn 10): region, issue date, sequence."""
DEMO_APPLICATION_INFO = ApplicationInfo(
    purchase_key_index=0x01,
    auth_key_version=0x01,
    start=datetime.date(2024, 1, 1),
    expiry=datetime.date(2034, 12, 31),
)
DIR_LABEL = "社会保障PSAM".encode("gbk")
"""Application label (tag ``50``) of the ADF's DIR entry."""
PSAM_VERSION = 0x01
KEY_CARD_TYPE = 0x00
"""0015 byte 13: this is a PSAM, not a key (mother) card."""
PSAM_VENDOR = b"SAM"
"""ATR bytes T3–T5 of a simulated PSAM."""


@dataclass(frozen=True, repr=False)
class AdminKeys:
    """The PSAM's own keys in one environment: the ADF master key and KID-01, 02, 03."""

    master: bytes
    auth: tuple[bytes, bytes, bytes]

    def check_values(self, cipher: Algorithm) -> dict[str, str]:
        """KCVs by name (``MK``, ``KID-01``…), the only way these keys are shown."""
        named = {"MK": self.master} | {f"KID-0{i}": k for i, k in enumerate(self.auth, 1)}
        return {name: kcv(key, cipher).hex().upper() for name, key in named.items()}

    def __repr__(self) -> str:
        return "AdminKeys(<4 keys>)"


def demo_admin_keys(cipher: Algorithm) -> AdminKeys:
    """**Published TEST keys**: ``SM3("<DEMO_LABEL>/PSAM/<algorithm>/<name>")[:16]``."""

    def key(name: str) -> bytes:
        return sm3(f"{DEMO_LABEL}/PSAM/{cipher.name}/{name}".encode())[:16]

    return AdminKeys(key("MK"), (key("KID-01"), key("KID-02"), key("KID-03")))


def psam_atr(terminal_number: str = DEMO_TERMINAL_NUMBER, serial: str = DEMO_SERIAL) -> bytes:
    """A PSAM's ATR in the card's format: region of the terminal, last 8 serial digits."""
    return make_atr(
        terminal_number[:6], bytes.fromhex(serial[-8:].rjust(8, "0")), vendor=PSAM_VENDOR
    )


def card_key_records(keyset: KeySet, *, level: int, region: str) -> list[KeyRecord]:
    """The records of every card key with a PSAM identifier, as a level-``level`` PSAM holds."""
    records = []
    for spec in CARD_KEYS:
        if spec.psam_usage is None or spec.psam_id is None or spec.name not in keyset.roots:
            continue
        key = level_key(keyset, spec.name, region, level)
        algorithm = KeyAlgorithm.for_key(keyset.algorithm, key)
        key_type = KeyType(spec.psam_usage & 0x1F)
        records.append(KeyRecord(key_type, level, spec.psam_id, algorithm, key))
    return records


def _authority(record: KeyRecord) -> Authority:
    if record.key_type is KeyType.PURCHASE:
        return Authority.NATIONAL
    cell = allocation_of(record.ident)
    if cell is None:
        raise PsamError(repr(record), "identifiers C0-FF are reserved (Part 9 table A1)")
    if (cell.holder is KeyHolder.PSAM) != (record.key_type is KeyType.MAINTENANCE):
        raise PsamError(repr(record), "identifiers 00-07 are the PSAM's own keys (table A1)")
    return cell.authority


def _keysets(keyset: KeySet | Sequence[KeySet] | None, algorithm: Algorithm | None) -> list[KeySet]:
    if keyset is None:
        ciphers = [algorithm] if algorithm is not None else [Algorithm.DES, Algorithm.SM4]
        return [demo_keyset(cipher) for cipher in ciphers]
    sets = [keyset] if isinstance(keyset, KeySet) else list(keyset)
    if algorithm is not None and [s.algorithm for s in sets] != [algorithm]:
        raise PsamError("content", f"algorithm {algorithm.name} does not match the key set(s)")
    envs = [environment_for(s.algorithm) for s in sets]
    if not sets or len(set(envs)) != len(envs):
        raise PsamError("content", "give one key set per environment (DES, SM4/SSF33)")
    return sets


def _dir_entry(name: bytes, label: bytes | None = None) -> bytes:
    value = build_ber_tlv(0x4F, name)
    if label is not None:
        value += build_ber_tlv(0x50, label)
    return build_ber_tlv(0x61, value)


def psam_content(
    keyset: KeySet | Sequence[KeySet] | None = None,
    *,
    level: int = 3,
    terminal_number: str = DEMO_TERMINAL_NUMBER,
    algorithm: Algorithm | None = None,
    serial: str = DEMO_SERIAL,
    issuer_id: int = 0x01,
    admin: Mapping[Algorithm, AdminKeys] | None = None,
    extra_keys: Sequence[KeyRecord] = (),
    application: ApplicationInfo = DEMO_APPLICATION_INFO,
    sequence: int = 0,
) -> dict[str, bytes]:
    """The storage of a personalised PSAM (see the module docstring).

    ``keyset`` is one key set, one per environment, or ``None`` for the demo key sets
    of ``algorithm`` (both DES and SM4 when ``algorithm`` is ``None``).  An environment
    exists only if it has a key set.  ``level`` is 1, 2 or 3; ``terminal_number`` the
    12 digits of file 0016, whose first six are the region of level-1/2 keys;
    ``extra_keys`` are added to the key files by their identifiers (a province's own
    keys); ``sequence`` is the terminal transaction sequence of file 0019.
    """
    if level not in (1, 2, 3):
        raise PsamError("content", f"level is 1, 2 or 3, got {level}")
    terminal = TerminalInfo(terminal_number)
    public = PublicInfo(issuer_id, serial, PSAM_VERSION, KEY_CARD_TYPE, bytes(2))
    sets = _keysets(keyset, algorithm)
    records: dict[Environment, dict[tuple[Authority, int, int], KeyRecord]] = {}
    for keys in sets:
        env = environment_for(keys.algorithm)
        records[env] = {}
        for record in card_key_records(keys, level=level, region=terminal.region):
            _place(records[env], record)
    for record in extra_keys:
        env = environment_for(record.algorithm.cipher)
        if env not in records:
            raise PsamError(repr(record), f"the PSAM has no {env.label} environment")
        if record.algorithm not in env.algorithms:
            raise PsamError(repr(record), f"algorithm not allowed in the {env.label} environment")
        _place(records[env], record)

    content: dict[str, bytes] = {DES_ENVIRONMENT.path: DES_ENVIRONMENT.ddf_name}
    mf_dir = []
    if DES_ENVIRONMENT in records:
        mf_dir.append(_dir_entry(ADF_AID, DIR_LABEL))
    if SM4_ENVIRONMENT in records:
        mf_dir.append(_dir_entry(SM4_ENVIRONMENT.ddf_name))
        content[SM4_ENVIRONMENT.path] = SM4_ENVIRONMENT.ddf_name
        content[SM4_ENVIRONMENT.dir_record_key(1)] = _dir_entry(ADF_AID, DIR_LABEL)
    for number, entry in enumerate(mf_dir, 1):
        content[DES_ENVIRONMENT.dir_record_key(number)] = entry
    for env in (DES_ENVIRONMENT, SM4_ENVIRONMENT):
        if env is DES_ENVIRONMENT or env in records:
            content[env.ef_key(0x0015)] = public.to_bytes()
            content[env.ef_key(0x0016)] = terminal.to_bytes()
    for keys in sets:
        env = environment_for(keys.algorithm)
        own = (admin or {}).get(keys.algorithm) or demo_admin_keys(keys.algorithm)
        content.update(_adf(env, keys.algorithm, own, records[env], application, sequence))
    return content


def _place(table: dict[tuple[Authority, int, int], KeyRecord], record: KeyRecord) -> None:
    slot = (_authority(record), record.key_type, record.ident)
    if slot in table:
        raise PsamError(repr(record), f"a key of this type and identifier exists ({table[slot]!r})")
    table[slot] = record


def _adf(
    env: Environment,
    cipher: Algorithm,
    own: AdminKeys,
    records: Mapping[tuple[Authority, int, int], KeyRecord],
    application: ApplicationInfo,
    sequence: int,
) -> dict[str, bytes]:
    def own_record(key_type: KeyType, ident: int, key: bytes) -> KeyRecord:
        return KeyRecord(key_type, 0, ident, KeyAlgorithm.for_key(cipher, key), key)

    content = {
        env.adf_path: ADF_AID,
        env.ef_key(0x0019): encode_sequence(sequence),
        env.master_key_key: own_record(KeyType.MASTER, 0x00, own.master).to_bytes(),
    }
    for authority in Authority:
        content[env.ef_key(authority.info_file)] = application.to_bytes()
    table = dict(records)
    for kid, key in enumerate(own.auth, 1):
        _place(table, own_record(KeyType.MAINTENANCE, kid, key))
        content[env.tries_key(kid)] = bytes((AUTH_KEY_TRIES, AUTH_KEY_TRIES))
    for (authority, key_type, ident), record in table.items():
        content[env.key_record_key(authority, key_type, ident)] = record.to_bytes()
    return content
