"""Issuing into chips in PC/SC readers: a personalisation machine's chip stations.

:class:`ReaderLine` is an :class:`~sbkcard.issuance.batch.IssuingLine` whose cards are
blank chips in PC/SC readers (a personalisation machine's chip stations), one worker
thread per reader, all working on the same batch.  For each reserved card a worker:

1. waits for a chip in its reader and reads its ATR;
2. checks it is blank (SELECT of the SSSE answers ``6A82``: a chip after COS activation
   holds the MF only, Part 10 §5.1) and that its ATR is one for this card's profile and
   region (T1–T9);
3. **binds** the chip to the reservation: the card identification code takes the chip's
   serial from the ATR's TA–TD (Part 2 §8.4; S2 §8.1.1.1), set when the chip was made,
   so the card keys, diversified from the ATR, are the chip's
   (:meth:`~sbkcard.issuance.registry.Registry.bind_chip`);
4. derives the card's keys, personalises the chip by APDUs through the reader and reads
   it back with the terminal, IRK authentication included
   (:func:`~sbkcard.issuance.personalise.personalise_card`,
   :class:`~sbkcard.issuance.personalise.Verifier`);
5. writes a receipt ``DIR/<card number>.json`` (card number, card identification code,
   ATR, reader: no key), ejects the card to the output stack with the machine's command
   (:mod:`sbkcard.apdu.machine`) and marks it issued.

A chip that fails (refuses a command, loses power, reads back wrong, is not blank, or
its serial is already known) is ejected to the reject bin and reported; the reservation
stays, and the next chip in the reader is used, up to :data:`CHIPS_PER_CARD` chips per
card.  A chip that refuses the batch's transport key (Part 10 §5.1.1) stops the batch
instead: its whole stock holds another key, and each chip tried would spend one of its
transport key's tries; the chip stays in its reader, the cards stay reserved.  A reader
with no chip within ``chip_timeout`` seconds stops its worker (the others go on); the
cards it could not take fail with that reason.

Resuming.  A receipt in ``DIR`` and the registry say where each card stands, as for
simulated chips.  A worker that finds in its reader the chip of a reservation (its ATR
is the reservation's: a run that stopped between read-back and receipt) checks it again
and finishes it instead of setting it aside; a finished card still in a reader (its
receipt written, the run stopped before the eject) goes to the output stack.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sbkcard.apdu.builders import SSSE_NAME, select_by_name
from sbkcard.apdu.machine import Bin, eject_command
from sbkcard.applet_model.user_card.personalise import TransportKeyRefused
from sbkcard.errors import NoCardError, SbkcardError, TransportError
from sbkcard.issuance.batch import (
    _CARD_FAILURES,
    BatchError,
    CardResult,
    IssuingLine,
    _Job,
    _succeeded,
    _write_json,
    image_path,
)
from sbkcard.issuance.personalise import (
    CardOrder,
    IssuanceError,
    Verifier,
    derive_keys,
    personalise_card,
)
from sbkcard.issuance.registry import Registry, RegistryError
from sbkcard.keys import kcv
from sbkcard.terminal.errors import HotlistError
from sbkcard.terminal.transports.pcsc import PcscTransport

__all__ = ["CHIPS_PER_CARD", "ChipError", "ReaderLine", "Station"]

CHIPS_PER_CARD = 3
"""Chips tried for one card before it is reported failed."""
CHIP_TIMEOUT = 5.0
"""Seconds a worker waits for a chip in its reader."""

Station = Callable[[], AbstractContextManager[tuple[Registry, Verifier]]]
"""Opens a worker's own registry connection and check terminal (each thread its own)."""


class ChipError(IssuanceError):
    """The chip in the reader cannot take this card (it is set aside)."""


class _NoChip(IssuanceError):
    """The reader stayed empty."""


def _select_ssse() -> bytes:
    return bytes(select_by_name(SSSE_NAME))


@dataclass(frozen=True)
class _Station:
    """One worker's reader, registry connection, check terminal and stop signal."""

    reader: str
    chip: PcscTransport
    registry: Registry
    verifier: Verifier
    stop: threading.Event


@dataclass
class _Pool:
    """The reserved cards waiting for a chip, shared by the workers."""

    jobs: list[tuple[_Job, CardOrder]]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, atr: bytes) -> tuple[_Job, CardOrder] | None:
        """The card whose chip ``atr`` is (a resumed one), else the next waiting."""
        with self.lock:
            if not self.jobs:
                return None
            for index, (_job, order) in enumerate(self.jobs):
                if order.atr == atr:
                    return self.jobs.pop(index)
            return self.jobs.pop(0)

    def drain(self) -> list[tuple[_Job, CardOrder]]:
        with self.lock:
            jobs, self.jobs = self.jobs, []
            return jobs


@dataclass
class ReaderLine(IssuingLine):
    """An issuing line whose chips are in the PC/SC ``readers`` (module docstring).

    ``station`` opens each worker's registry connection and verifier (a SQLite
    connection serves one thread); ``blank`` is unused.
    """

    readers: Sequence[str] = ()
    station: Station | None = None
    chip_timeout: float = CHIP_TIMEOUT
    chips_per_card: int = CHIPS_PER_CARD
    _ejected: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.readers:
            raise IssuanceError("a reader line needs at least one reader")
        if len(set(self.readers)) != len(self.readers):
            raise IssuanceError("a reader is named twice")

    def _image(self, order: CardOrder) -> str | None:
        """The receipt an earlier run left: ``None`` none, ``""`` this card's, else why not."""
        path = image_path(self.out_dir, order.card_number)
        if not path.exists():
            return None
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
            if receipt.get("card_id") == order.card_id.hex:
                return ""
            found = receipt.get("card_id")
        except (OSError, ValueError, AttributeError) as exc:
            found = f"unreadable: {exc}"
        return (
            f"{path} is not this reservation's receipt (card identification code {found}, "
            f"not {order.card_id.hex}); move it away and run the batch again"
        )

    def _issue_chunk(self, slots: list[CardResult | int], jobs: list[_Job]) -> Iterator[CardResult]:
        orders = [
            CardOrder.of(job.applicant, job.record, self.profile, self.issue_date, pin=self.pin)
            for job in jobs
        ]
        pending: list[tuple[_Job, CardOrder]] = []
        for slot in slots:
            if isinstance(slot, CardResult):
                yield slot
                continue
            job, order = jobs[slot], orders[slot]
            found = self._image(order)
            if found is None:
                pending.append((job, order))
            elif found:
                yield self._failed(job, found)
            else:
                yield self._issue(job, order, None)
        if pending:
            yield from self._dispatch(_Pool(pending))

    def _dispatch(self, pool: _Pool) -> Iterator[CardResult]:
        results: queue.Queue[CardResult | BaseException | str] = queue.Queue()
        stop = threading.Event()
        workers = [
            threading.Thread(
                target=self._work, args=(reader, pool, results, stop), name=f"reader {reader}"
            )
            for reader in self.readers
        ]
        for worker in workers:
            worker.start()
        running, last_reason = len(workers), ""
        try:
            while running:
                item = results.get()
                if isinstance(item, str):  # a worker ended (why, if it stopped early)
                    running -= 1
                    last_reason = item or last_reason
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
            for job, _order in pool.drain():
                yield self._failed(job, f"{last_reason} (the card stays reserved)")
        finally:
            stop.set()
            for worker in workers:
                worker.join()

    def _work(
        self,
        reader: str,
        pool: _Pool,
        results: queue.Queue[CardResult | BaseException | str],
        stop: threading.Event,
    ) -> None:
        """One reader's worker: chips in, cards out, until the pool is empty."""
        ending = ""
        try:
            assert self.station is not None
            with self.station() as (registry, verifier), PcscTransport(reader) as chip:
                self._clear_finished(chip, reader)
                while not stop.is_set():
                    try:
                        atr = self._wait_chip(chip, reader, stop)
                    except _NoChip as exc:
                        ending = str(exc)
                        return
                    taken = pool.take(atr)
                    if taken is None:
                        return
                    station = _Station(reader, chip, registry, verifier, stop)
                    results.put(self._card(station, *taken))
        except BaseException as exc:  # a registry or hotlist failure stops the batch
            results.put(exc)
        finally:
            results.put(ending)

    def _clear_finished(self, chip: PcscTransport, reader: str) -> None:
        """A finished card an earlier run left in the reader (receipt written, not yet
        ejected) goes to the output stack."""
        try:
            atr = chip.power_on().hex().upper()
        except SbkcardError:
            return
        for path in self.out_dir.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if json.loads(path.read_text(encoding="utf-8")).get("atr") == atr:
                    self._eject(chip, reader, Bin.OUTPUT)
                    return
        chip.power_off()

    def _wait_chip(self, chip: PcscTransport, reader: str, stop: threading.Event) -> bytes:
        deadline = time.monotonic() + self.chip_timeout
        while not stop.is_set():
            try:
                atr = chip.power_on()
                if atr != self._ejected.get(reader):  # the ejected chip may linger a poll
                    return atr
                chip.power_off()
            except NoCardError:
                pass
            except TransportError as exc:
                raise _NoChip(f"reader {reader!r}: {exc}") from None
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        raise _NoChip(
            f"reader {reader!r}: no chip within {self.chip_timeout:g} s (is its stock used up?)"
        )

    def _card(self, station: _Station, job: _Job, order: CardOrder) -> CardResult:
        """Issue one card in the station's reader, setting failing chips aside."""
        chip, reader, registry, stop = station.chip, station.reader, station.registry, station.stop
        set_aside: list[str] = []
        for attempt in range(self.chips_per_card):
            if attempt:
                try:
                    self._wait_chip(chip, reader, stop)
                except _NoChip as exc:
                    set_aside.append(str(exc))
                    break
            try:
                order = self._personalise(station, job, order)
            except HotlistError:
                raise
            except TransportKeyRefused as exc:
                raise self._wrong_transport_key(reader, exc) from None
            except (*_CARD_FAILURES, RegistryError) as exc:
                set_aside.append(f"chip {self._serial(reader)} set aside: {exc}")
                self._eject(chip, reader, Bin.REJECT)
                continue
            self._eject(chip, reader, Bin.OUTPUT)
            return _succeeded(job, registry.mark_issued(order.card_number), "; ".join(set_aside))
        return self._failed(job, "; ".join(set_aside) + " (the card stays reserved)")

    def _wrong_transport_key(self, reader: str, refusal: TransportKeyRefused) -> BatchError:
        """The batch stops: the stock in ``reader`` holds another transport key."""
        check = kcv(self.transport_key, self.keyset.algorithm).hex().upper()
        return BatchError(
            f"reader {reader!r}: chip {self._serial(reader)}: {refusal}; the blank stock "
            f"holds another transport key than this batch's (KCV {check}). Stopped before "
            "spending more chips: none set aside, the cards stay reserved; run the same "
            "command with the --keys and --transport-key the stock was made with"
        )

    def _serial(self, reader: str) -> str:
        """The serial (the ATR's last 4 bytes) of the chip last powered in ``reader``."""
        return self._ejected.get(reader, b"")[-4:].hex().upper() or "(no ATR)"

    def _personalise(self, station: _Station, job: _Job, order: CardOrder) -> CardOrder:
        """Bind, personalise and check the chip in the station; the order as bound."""
        chip, reader = station.chip, station.reader
        atr = self._ejected[reader] = chip.power_on()  # (the ATR of the chip to eject)
        if CardOrder.of(job.applicant, job.record, self.profile).atr[:-4] != atr[:-4]:
            raise ChipError(
                f"its ATR {atr.hex().upper()} is not one of a profile {self.profile.generation} "
                f"chip for region {order.region}"
            )
        answer = chip.transmit(_select_ssse())
        if answer[-2:] != b"\x6a\x82":  # not blank: this card's chip from an earlier run?
            if atr != order.atr:
                raise ChipError(
                    f"it is not blank (SELECT SSSE answers {answer[-2:].hex().upper()}, "
                    "a chip after COS activation answers 6A82)"
                )
        else:
            chip.power_off()
            record = station.registry.bind_chip(order.card_number, atr[-4:])
            order = CardOrder.of(job.applicant, record, self.profile, self.issue_date, pin=self.pin)
            keys = derive_keys(self.keyset, [order])[0]
            personalise_card(chip, order, keys, self.transport_key)
        station.verifier.check(chip, order)
        _write_json(
            image_path(self.out_dir, order.card_number),
            {
                "card_number": order.card_number,
                "card_id": order.card_id.hex,
                "atr": atr.hex().upper(),
                "reader": reader,
            },
        )
        return order

    def _eject(self, chip: PcscTransport, reader: str, where: Bin) -> None:
        """The machine's eject command (a chip gone already is no error)."""
        with contextlib.suppress(SbkcardError):
            self._ejected[reader] = chip.power_on()
            chip.transmit(eject_command(where))
        with contextlib.suppress(SbkcardError):
            chip.power_off()
