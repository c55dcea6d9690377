"""Key ceremonies of a provincial key-management centre (Part 10 §6.1–§6.4; Part 9 §6).

Dual control and split knowledge (Part 10 §6.3.3 items 2–5, §6.4.2.2): no one person
ever holds enough to form a root key.

- :func:`generate_parts` makes a random key and splits it for N custodians, either into
  N *components* whose XOR is the key (all N needed) or into N Shamir *shares* of which
  any M re-form it (pycryptodome's ``Shamir`` over GF(2^128), one 16-byte chunk at a
  time). Each part carries its own check value: a component's KCV, or a share's KCV
  taken as a key of the same algorithm; the key's KCV is recorded beside them.
- :func:`reform_key` puts parts back together, stopping at the first check value that
  does not match, and :func:`reform_into_store` stores the result.
- :func:`export_keys` derives a city's (or a province's) keys inside the store and wraps
  them under a transport key; :func:`import_keys` unwraps them into the city's store.

Every step goes into a :class:`~sbkcard.keys.transcript.Transcript`: who, when, the
KCVs; never a key, a component or a share. Part files are sealed under each custodian's
own passphrase (:mod:`sbkcard.keys.sealing`).
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir

from sbkcard.errors import SbkcardError
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.hashing import sm3
from sbkcard.keys.hierarchy import Level, card_key
from sbkcard.keys.sealing import (
    SCRYPT_N,
    ScryptParams,
    Sealer,
    check_new_passphrase,
    header_digest,
    verify_header,
)
from sbkcard.keys.store import (
    KeyAlgorithm,
    KeyInfo,
    KeyStore,
    KeyStoreError,
    TamperedError,
    check_value,
    level_label,
)
from sbkcard.keys.store_keyset import StoreKeySet
from sbkcard.keys.transcript import (
    Transcript,
    TranscriptError,
    TranscriptReport,
    verify_transcript,
)
from sbkcard.keys.zeroize import random_secret, wiped, xor_into, zeroize

__all__ = [
    "EXPORT_FORMAT",
    "PART_FORMAT",
    "CeremonyError",
    "CheckValueError",
    "Expected",
    "KeyPart",
    "PartKind",
    "combine_components",
    "combine_shares",
    "expected_from_transcript",
    "export_keys",
    "generate_parts",
    "import_keys",
    "part_check_value",
    "read_part",
    "reform_into_store",
    "reform_key",
    "split_components",
    "split_shares",
    "verified_transcript",
    "write_part",
]

PART_FORMAT = "sbkcard-key-part"
EXPORT_FORMAT = "sbkcard-key-export"
VERSION = 1
SHAMIR_CHUNK = 16
MAX_PARTS = 255


class CeremonyError(SbkcardError):
    """A ceremony step failed: wrong parts, missing custodians, a package that does not fit."""


class CheckValueError(CeremonyError):
    """A key, component or share does not have the check value it should have."""


class PartKind(Enum):
    """How a key was split."""

    COMPONENT = "component"
    SHARE = "share"


# -- splitting and combining -----------------------------------------------------------------


def split_components(key: bytearray, count: int) -> list[bytearray]:
    """``count`` random components whose XOR is ``key`` (all needed to re-form it)."""
    if not 2 <= count <= MAX_PARTS:
        raise CeremonyError(f"components: 2 to {MAX_PARTS} custodians, not {count}")
    parts = [random_secret(len(key)) for _ in range(count - 1)]
    last = bytearray(key)
    for part in parts:
        xor_into(last, part)
    return [*parts, last]


def combine_components(components: Sequence[bytearray]) -> bytearray:
    """The XOR of all components."""
    if not components:
        raise CeremonyError("no components to combine")
    key = bytearray(components[0])
    for component in components[1:]:
        xor_into(key, component)
    return key


def _chunks(secret: bytearray) -> list[bytearray]:
    """``secret`` zero-padded to whole 16-byte chunks (8-byte DES keys: one padded chunk)."""
    padded = secret + bytes(-len(secret) % SHAMIR_CHUNK)
    try:
        return [padded[i : i + SHAMIR_CHUNK] for i in range(0, len(padded), SHAMIR_CHUNK)]
    finally:
        zeroize(padded)


def split_shares(key: bytearray, threshold: int, count: int) -> list[tuple[int, bytearray]]:
    """``count`` Shamir shares of ``key``, any ``threshold`` of which re-form it.

    pycryptodome's Shamir shares a 16-byte secret; a key is zero-padded to whole
    16-byte chunks and every chunk is shared with its own random polynomial, share *i*
    being the concatenation of the chunks' shares at point *i*.
    """
    if not 2 <= threshold <= count <= MAX_PARTS:
        raise CeremonyError(
            f"shares: need 2 ≤ M ≤ N ≤ {MAX_PARTS}, got M = {threshold}, N = {count}"
        )
    chunks = _chunks(key)
    # allocated once at full size: growing a bytearray would leave unwiped copies behind
    shares = [(index, bytearray(SHAMIR_CHUNK * len(chunks))) for index in range(1, count + 1)]
    try:
        for number, chunk in enumerate(chunks):
            at = slice(SHAMIR_CHUNK * number, SHAMIR_CHUNK * (number + 1))
            for (index, share), (point, value) in zip(
                shares, Shamir.split(threshold, count, bytes(chunk)), strict=True
            ):
                if index != point:
                    raise CeremonyError("Shamir returned shares out of order")
                share[at] = value
    finally:
        zeroize(*chunks)
    return shares


def combine_shares(shares: Sequence[tuple[int, bytearray]], length: int) -> bytearray:
    """The key of ``length`` bytes from ``shares`` (at least the threshold of them).

    With fewer shares than the threshold the interpolation gives an unrelated value:
    a wrong key (caught by its KCV), or non-zero padding (caught here).
    """
    if not shares:
        raise CeremonyError("no shares to combine")
    size = len(shares[0][1])
    if size % SHAMIR_CHUNK or any(len(share) != size for _, share in shares):
        raise CeremonyError("shares differ in length or are not whole 16-byte chunks")
    if len({index for index, _ in shares}) != len(shares):
        raise CeremonyError("the same share index appears twice")
    secret = bytearray(size)
    for offset in range(0, size, SHAMIR_CHUNK):
        points = [(index, bytes(share[offset : offset + SHAMIR_CHUNK])) for index, share in shares]
        secret[offset : offset + SHAMIR_CHUNK] = Shamir.combine(points)
    if len(secret) < length or any(secret[length:]):
        zeroize(secret)
        raise CheckValueError(
            "the shares do not re-form a key (its padding is not zero): fewer shares than "
            "the threshold, or a wrong share"
        )
    key = secret[:length]
    zeroize(secret)
    return key


def part_check_value(value: bytearray, algorithm: KeyAlgorithm) -> str:
    """A part's check value: its KCV as a key of the key's algorithm.

    A component has the key's length; a share is 16 or 32 bytes, a valid length for
    DES (two-key 3DES), SM4 and AES.
    """
    return check_value(bytes(value), algorithm)


# -- parts and their files -------------------------------------------------------------------


@dataclass(repr=False)
class KeyPart:
    """One custodian's part of a key. ``value`` is secret; ``repr`` never shows it."""

    kind: PartKind
    key_label: str
    algorithm: KeyAlgorithm
    key_length: int
    key_kcv: str
    index: int
    count: int
    threshold: int
    custodian: str
    value: bytearray
    check: str

    def metadata(self) -> dict[str, Any]:
        """Everything but the value (what a part file shows in clear)."""
        return {
            "kind": self.kind.value,
            "key_label": self.key_label,
            "algorithm": self.algorithm.value,
            "key_length": self.key_length,
            "key_kcv": self.key_kcv,
            "index": self.index,
            "count": self.count,
            "threshold": self.threshold,
            "custodian": self.custodian,
            "check": self.check,
        }

    @property
    def title(self) -> str:
        """``component 2 of 3 (王芳)`` for messages."""
        return f"{self.kind.value} {self.index} of {self.count} ({self.custodian})"

    def __repr__(self) -> str:
        return f"KeyPart({self.title}, key {self.key_label}, check={self.check})"

    def wipe(self) -> None:
        """Zeroize the value."""
        zeroize(self.value)


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write_part(
    path: str | os.PathLike[str], part: KeyPart, passphrase: str, *, scrypt_n: int = SCRYPT_N
) -> None:
    """Write ``part`` to a new file sealed under the custodian's ``passphrase``.

    The passphrase and ``scrypt_n`` must meet :data:`~sbkcard.keys.sealing.POLICY`.
    """
    target = Path(path)
    check_new_passphrase(passphrase, where=f"{target} ({part.custodian})")
    sealer = Sealer(passphrase, ScryptParams.fresh(scrypt_n))
    try:
        metadata = part.metadata()
        check = sealer.check_value()
        document = {
            "format": PART_FORMAT,
            "version": VERSION,
            **metadata,
            "kdf": sealer.params.to_json(),
            "passphrase_check": check,
            "kdf_digest": header_digest(sealer.params, check),
            "sealed": sealer.seal(part.value, _canonical(metadata)),
        }
    finally:
        sealer.close()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _write_new(target, text.encode(), "a part file")


def _write_new(target: Path, data: bytes, what: str) -> None:
    """Create ``target`` readable by its owner only (0600) and write ``data``; never overwrite."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CeremonyError(f"{target}: exists; {what} is never overwritten") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _read_document(source: Path, form: str, what: str) -> tuple[bytes, dict[str, Any]]:
    """The bytes and the JSON object of the ``form`` file ``source``, format and version checked."""
    try:
        data = source.read_bytes()
        document = json.loads(data)
    except (OSError, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise CeremonyError(f"{source}: not a readable {what} ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != form:
        raise CeremonyError(f"{source}: not an sbkcard {what}")
    if document.get("version") != VERSION:
        raise CeremonyError(f"{source}: {what} version {document.get('version')!r} unknown")
    return data, document


def read_part(path: str | os.PathLike[str], passphrase: str | Callable[[str], str]) -> KeyPart:
    """Open a part file; checks the seal, then the part's own check value.

    ``passphrase`` is the custodian's passphrase, or a function that asks the custodian
    named in the file for it.
    """
    source = Path(path)
    _, document = _read_document(source, PART_FORMAT, "key part file")
    try:
        part = KeyPart(
            PartKind(document["kind"]),
            str(document["key_label"]),
            KeyAlgorithm(document["algorithm"]),
            int(document["key_length"]),
            str(document["key_kcv"]),
            int(document["index"]),
            int(document["count"]),
            int(document["threshold"]),
            str(document["custodian"]),
            bytearray(),
            str(document["check"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CeremonyError(f"{source}: malformed part file ({exc})") from exc
    params = ScryptParams.from_json(document.get("kdf"), where=str(source))
    if "kdf_digest" in document:
        verify_header(
            params, document.get("passphrase_check"), document["kdf_digest"], where=str(source)
        )
    secret = passphrase(part.custodian) if callable(passphrase) else passphrase
    sealer = Sealer(secret, params)
    try:
        sealer.verify_passphrase(document.get("passphrase_check"), where=str(source))
        part.value = sealer.open(
            document.get("sealed"), _canonical(part.metadata()), what=str(source)
        )
    finally:
        sealer.close()
    _check_part(part, where=str(source))
    return part


def _check_part(part: KeyPart, *, where: str, expected: str | None = None) -> None:
    computed = part_check_value(part.value, part.algorithm)
    if computed != part.check:
        raise CheckValueError(
            f"{where}: {part.title} has check value {computed}, but {part.check} was recorded "
            "for it: a wrong or mistyped part"
        )
    if expected is not None and computed != expected:
        raise CheckValueError(
            f"{where}: {part.title} has check value {computed}; the generation transcript "
            f"recorded {expected}: this is not the part that was issued"
        )


# -- generation ------------------------------------------------------------------------------


@dataclass
class GeneratedKey:
    """The result of :func:`generate_parts`: the parts (secret) and the key's KCV."""

    label: str
    kcv: str
    parts: list[KeyPart] = field(default_factory=list)

    def wipe(self) -> None:
        """Zeroize every part."""
        for part in self.parts:
            part.wipe()


def generate_parts(
    label: str,
    algorithm: KeyAlgorithm,
    length: int,
    custodians: Sequence[str],
    *,
    transcript: Transcript,
    operator: str,
    threshold: int | None = None,
    store: KeyStore | None = None,
    extractable: bool = False,
) -> GeneratedKey:
    """Generate a key and split it among ``custodians`` (components, or M-of-N shares).

    With ``store`` the key is also put into it under ``label`` before the key buffer is
    wiped (the generating centre keeps it; the parts are its backup and its way to a
    second site). The caller hands each part to its custodian and wipes the result.
    """
    algorithm.check_length(length, what=f"key {label!r}")
    if len(set(custodians)) != len(custodians) or not all(custodians):
        raise CeremonyError("custodians: each needs a name, and each name once")
    kind = PartKind.COMPONENT if threshold is None else PartKind.SHARE
    needed = len(custodians) if threshold is None else threshold
    with wiped(random_secret(length)) as key:
        key_kcv = check_value(bytes(key), algorithm)
        values = _split(key, kind, needed, len(custodians))
        transcript.record(
            "key generated",
            operator,
            label=label,
            algorithm=algorithm.value,
            length=length,
            kcv=key_kcv,
            scheme=f"{kind.value}s",
            threshold=needed,
            count=len(custodians),
            source="operating-system CSPRNG",
        )
        if store is not None:
            _put(store, label, key, algorithm, extractable, transcript, operator)
    result = GeneratedKey(label, key_kcv)
    for (index, value), custodian in zip(values, custodians, strict=True):
        part = KeyPart(
            kind,
            label,
            algorithm,
            length,
            key_kcv,
            index,
            len(custodians),
            needed,
            custodian,
            value,
            part_check_value(value, algorithm),
        )
        result.parts.append(part)
        _record_part(transcript, part, "issued", count=part.count)
    return result


def _split(key: bytearray, kind: PartKind, needed: int, count: int) -> list[tuple[int, bytearray]]:
    """The numbered parts of ``key``: XOR components (all needed) or M-of-N shares."""
    if kind is PartKind.COMPONENT:
        return list(enumerate(split_components(key, count), start=1))
    return split_shares(key, needed, count)


def _record_part(transcript: Transcript, part: KeyPart, event: str, **more: Any) -> None:
    """The transcript's line for a part issued or accepted (its check, never its value)."""
    transcript.record(
        f"{part.kind.value} {event}",
        part.custodian,
        label=part.key_label,
        index=part.index,
        **more,
        check=part.check,
    )


# -- re-forming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a generation transcript says a key and its parts must look like."""

    label: str
    kcv: str
    kind: PartKind
    threshold: int
    count: int
    checks: Mapping[int, str]
    custodians: Mapping[int, str]


def verified_transcript(
    path: str | os.PathLike[str], head: str | None, *, what: str
) -> TranscriptReport:
    """The ``what`` transcript at ``path``, verified to end with ``head`` from the minutes.

    A hash chain alone proves nothing against a forger, who re-chains an edited
    transcript; the head digest written in the signed minutes does (Part 10 §6.6).
    """
    if not head:
        raise CeremonyError(
            f"{path}: the {what} transcript is checked against the head digest written in "
            "its minutes; give that head"
        )
    try:
        return verify_transcript(path, head=head)
    except TranscriptError as exc:
        raise CeremonyError(f"the {what} transcript fails its check: {exc}") from exc


def expected_from_transcript(
    path: str | os.PathLike[str], label: str, *, head: str | None
) -> Expected:
    """The KCVs recorded when ``label`` was generated (the transcript is verified first,
    against ``head``, the generation minutes' head digest)."""
    report = verified_transcript(path, head, what="generation")
    generated = [
        e for e in report.entries if e.step == "key generated" and e.details.get("label") == label
    ]
    if len(generated) != 1:
        raise CeremonyError(f"{path}: {len(generated)} generations of {label!r} recorded, not 1")
    details = generated[0].details
    kind = PartKind(details["scheme"].rstrip("s"))
    issued = [
        e
        for e in report.entries
        if e.step == f"{kind.value} issued" and e.details.get("label") == label
    ]
    return Expected(
        label,
        details["kcv"],
        kind,
        int(details["threshold"]),
        int(details["count"]),
        {int(e.details["index"]): str(e.details["check"]) for e in issued},
        {int(e.details["index"]): e.actor for e in issued},
    )


def _consistent(parts: Sequence[KeyPart]) -> KeyPart:
    if not parts:
        raise CeremonyError("no parts given")
    first = parts[0]
    for part in parts[1:]:
        for name in ("kind", "key_label", "algorithm", "key_length", "key_kcv", "count"):
            if getattr(part, name) != getattr(first, name):
                raise CeremonyError(
                    f"{part.title} and {first.title} belong to different keys or splits "
                    f"({name} differs)"
                )
    indexes = [part.index for part in parts]
    if len(set(indexes)) != len(indexes):
        raise CeremonyError(f"the same part was given twice (indexes {sorted(indexes)})")
    return first


def reform_key(
    parts: Sequence[KeyPart],
    *,
    transcript: Transcript,
    operator: str,
    expected: Expected | None = None,
) -> bytearray:
    """Re-form a key from its parts; :class:`CheckValueError` at the first mismatch.

    Components: all N, each checked against its own KCV (and the generation
    transcript's, with ``expected``). Shares: at least M. Finally the key's KCV must be
    the one recorded at generation. Every acceptance and the failure, if any, is in the
    transcript.
    """
    try:
        first = _consistent(parts)
        if expected is not None:
            _check_expected(first, expected)
        for part in parts:
            if expected is not None and part.index not in expected.checks:
                raise CeremonyError(f"{part.title}: the transcript records no such part issued")
            _check_part(
                part,
                where="re-forming",
                expected=None if expected is None else expected.checks[part.index],
            )
            _record_part(transcript, part, "accepted")
        key = _combine(first, parts)
        kcv = check_value(bytes(key), first.algorithm)
        if kcv != first.key_kcv:
            zeroize(key)
            raise CheckValueError(
                f"the re-formed {first.key_label} has KCV {kcv}, not the recorded {first.key_kcv}"
            )
    except CeremonyError as exc:
        transcript.record("re-forming failed", operator, reason=str(exc))
        raise
    transcript.record(
        "key re-formed",
        operator,
        label=first.key_label,
        kcv=kcv,
        parts=sorted(part.index for part in parts),
    )
    return key


def _check_expected(first: KeyPart, expected: Expected) -> None:
    """The parts are of the key the generation transcript recorded."""
    if (
        expected.label != first.key_label
        or expected.kind is not first.kind
        or expected.kcv != first.key_kcv
    ):
        raise CeremonyError(
            f"the parts are for {first.key_label} ({first.kind.value}s, KCV "
            f"{first.key_kcv}), the transcript for {expected.label} ({expected.kind.value}s,"
            f" KCV {expected.kcv})"
        )


def _combine(first: KeyPart, parts: Sequence[KeyPart]) -> bytearray:
    """The key from every component, or from at least the threshold of shares."""
    if first.kind is PartKind.COMPONENT:
        missing = sorted(set(range(1, first.count + 1)) - {p.index for p in parts})
        if missing:
            raise CeremonyError(
                f"components {missing} of {first.count} are missing: all are needed"
            )
        return combine_components([part.value for part in parts])
    if len(parts) < first.threshold:
        raise CeremonyError(f"{len(parts)} shares given, {first.threshold} of {first.count} needed")
    return combine_shares([(part.index, part.value) for part in parts], first.key_length)


def reform_into_store(
    parts: Sequence[KeyPart],
    store: KeyStore,
    *,
    transcript: Transcript,
    operator: str,
    label: str | None = None,
    expected: Expected | None = None,
    extractable: bool = False,
) -> KeyInfo:
    """:func:`reform_key`, then put the key into ``store`` (under its own label by default)."""
    with wiped(
        reform_key(parts, transcript=transcript, operator=operator, expected=expected)
    ) as key:
        target = label or parts[0].key_label
        return _put(store, target, key, parts[0].algorithm, extractable, transcript, operator)


def _put(
    store: KeyStore,
    label: str,
    key: bytearray,
    algorithm: KeyAlgorithm,
    extractable: bool,
    transcript: Transcript,
    operator: str,
) -> KeyInfo:
    """Put ``key`` into ``store`` and record it in the transcript by its KCV."""
    info = store.put(label, key, algorithm, extractable=extractable)
    transcript.record(
        "key stored",
        operator,
        label=label,
        kcv=info.kcv,
        store=store.description,
        extractable=info.extractable,
    )
    return info


# -- export to a city, import there ----------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_keys(
    store: KeyStore,
    *,
    algorithm: Algorithm,
    region: str,
    kek_label: str,
    out: str | os.PathLike[str],
    transcript: Transcript,
    operator: str,
    level: Level = Level.CITY,
    names: Sequence[str] | None = None,
) -> dict[str, str]:
    """Derive ``region``'s keys and write them wrapped under the KEK (all in the store).

    The keys come from the national roots, or from the province's own keys when the
    store holds those (Part 10 §6.1.2: application keys come from the ministry). Returns
    the KCVs by key name. The package is JSON: per key its name, length, KCV and
    KW-wrapped value; its SM3 digest goes into the transcript, so the importing side can
    check that it got this very file.
    """
    if level not in (Level.PROVINCE, Level.CITY):
        raise CeremonyError(f"export: level 1 (city) or 2 (province), not {int(level)}")
    kek = store.info(kek_label)
    source, factors, roots = _export_source(store, algorithm, region, level, names)
    entries = [_wrapped_entry(store, name, label, kek_label, factors) for name, label in roots]
    kcvs = {entry["name"]: entry["kcv"] for entry in entries}
    package = {
        "format": EXPORT_FORMAT,
        "version": VERSION,
        "algorithm": algorithm.name,
        "region": region,
        "level": int(level),
        "wrapping": f"{kek.algorithm.value}-KW (NIST SP 800-38F, RFC 3394)",
        "kek": {"label": kek_label, "algorithm": kek.algorithm.value, "kcv": kek.kcv},
        "created": _now(),
        "exporter": operator,
        "keys": entries,
    }
    data = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode()
    target = Path(out)
    _write_new(target, data, "an export package")
    transcript.record(
        "keys exported",
        operator,
        algorithm=algorithm.name,
        region=region,
        level=int(level),
        source_level=int(source.level),
        kek_label=kek_label,
        kek_kcv=kek.kcv,
        store=store.description,
        package=target.name,
        package_sm3=sm3(data).hex(),
        kcvs=kcvs,
    )
    return kcvs


def _export_source(
    store: KeyStore, algorithm: Algorithm, region: str, level: Level, names: Sequence[str] | None
) -> tuple[StoreKeySet, list[bytes], list[tuple[str, str]]]:
    """The keys the store derives ``region``'s from, the factors down to ``level``, and
    the (name, store label) of each key wanted (all when ``names`` is ``None``)."""
    try:
        source = StoreKeySet.from_store(store, algorithm, region)
        factors = source.level_factors(region, level)
    except KeyStoreError as exc:
        raise CeremonyError(f"export of {region}: {exc}") from exc
    wanted = list(source.labels) if names is None else [card_key(n).name for n in names]
    missing = sorted(set(wanted) - set(source.labels))
    if missing:
        raise CeremonyError(
            f"{store.description}: no {algorithm.name} key at level {int(source.level)} "
            f"for {missing}"
        )
    return source, factors, [(name, source.labels[name]) for name in wanted]


def _wrapped_entry(
    store: KeyStore, name: str, label: str, kek_label: str, factors: Sequence[bytes]
) -> dict[str, Any]:
    """One key of an export package: derived and wrapped inside the store, KCV beside it."""
    wrapped = store.wrap(label, kek_label, factors)
    return {
        "name": name,
        "length": wrapped.length,
        "kcv": wrapped.kcv,
        "wrapped": wrapped.data.hex(),
    }


_PackageKey = tuple[str, int, str, bytes]
"""A key of an export package: name, length, KCV, wrapped value."""


def _package_contents(
    source: Path, package: Mapping[str, Any]
) -> tuple[Algorithm, str, Level, str, list[_PackageKey]]:
    """An export package's algorithm, region, level, transport-key KCV and keys."""
    try:
        keys = [
            (str(e["name"]), int(e["length"]), str(e["kcv"]), bytes.fromhex(e["wrapped"]))
            for e in package["keys"]
        ]
        return (
            Algorithm[package["algorithm"]],
            str(package["region"]),
            Level(int(package["level"])),
            str(package["kek"]["kcv"]),
            keys,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CeremonyError(f"{source}: malformed export package ({exc})") from exc


def _check_kek(store: KeyStore, kek_label: str, kcv: str) -> None:
    """The transport key in the store is the one the package was wrapped under."""
    kek = store.info(kek_label)
    if kek.kcv != kcv:
        raise CheckValueError(
            f"transport key {kek_label!r} has KCV {kek.kcv}; the package was wrapped under "
            f"a key with KCV {kcv}"
        )


def _exported_entry(report: TranscriptReport, digest: str) -> Mapping[str, Any]:
    for entry in report.entries:
        if entry.step == "keys exported" and entry.details.get("package_sm3") == digest:
            return entry.details
    raise CeremonyError(
        f"{report.path}: records no export of a package with SM3 {digest}: the package is "
        "not the one that was exported, or was altered"
    )


def import_keys(
    package_path: str | os.PathLike[str],
    store: KeyStore,
    *,
    kek_label: str,
    transcript: Transcript,
    operator: str,
    exporter_transcript: str | os.PathLike[str] | None = None,
    exporter_head: str | None = None,
    extractable: bool = False,
) -> list[KeyInfo]:
    """Unwrap an export package into ``store``; all keys or none.

    Checks, in order: the transport key's KCV is the package's; with
    ``exporter_transcript`` (verified against ``exporter_head``, the head digest in the
    exporting ceremony's minutes), the package's SM3 digest and every KCV are the ones
    the exporting centre recorded; every unwrapped key has its KCV.
    """
    source = Path(package_path)
    data, package = _read_document(source, EXPORT_FORMAT, "export package")
    algorithm, region, level, kek_kcv, keys = _package_contents(source, package)
    digest = sm3(data).hex()
    imported: list[KeyInfo] = []
    try:
        _check_kek(store, kek_label, kek_kcv)
        recorded: Mapping[str, Any] | None = None
        if exporter_transcript is not None:
            report = verified_transcript(exporter_transcript, exporter_head, what="exporter")
            recorded = _exported_entry(report, digest)
        for name, length, kcv, wrapped in keys:
            if recorded is not None and recorded["kcvs"].get(name) != kcv:
                raise CheckValueError(
                    f"{name}: the package says KCV {kcv}, the exporter recorded "
                    f"{recorded['kcvs'].get(name)}"
                )
            label = level_label(algorithm, card_key(name).name, region, level)
            try:
                info = store.unwrap(
                    label,
                    wrapped,
                    kek_label,
                    KeyAlgorithm.of(algorithm),
                    length,
                    extractable=extractable,
                )
            except TamperedError as exc:
                raise CheckValueError(f"{name}: {exc}") from exc
            imported.append(info)
            if info.kcv != kcv:
                raise CheckValueError(f"{name}: unwrapped key has KCV {info.kcv}, not {kcv}")
            transcript.record("key imported", operator, name=name, label=label, kcv=info.kcv)
    except (CeremonyError, KeyStoreError) as exc:
        for info in imported:
            store.delete(info.label)
        transcript.record(
            "import failed", operator, package=source.name, package_sm3=digest, reason=str(exc)
        )
        raise
    transcript.record(
        "keys imported",
        operator,
        package=source.name,
        package_sm3=digest,
        checked_against="exporter transcript" if exporter_transcript else "package KCVs only",
        store=store.description,
        region=region,
        level=int(level),
        kcvs={info.parsed.name if info.parsed else info.label: info.kcv for info in imported},
    )
    return imported
