"""The user card's medical purse commands (Part 5 §7; state machine of table 49).

INITIALIZE FOR LOAD/PURCHASE, CREDIT FOR LOAD, DEBIT FOR PURCHASE, GET BALANCE,
GET TRANSACTION PROOF and UPDATE/GET STARTING DAY over the purse EF of
:mod:`sbkcard.applet_model.user_card.purse`.
"""

from __future__ import annotations

import datetime
import hmac
from dataclasses import asdict, replace

from construct import Construct, Container

from sbkcard.apdu import bodies
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.status import SW
from sbkcard.applet_model.applet import CardRefusal
from sbkcard.applet_model.ssse import PURSE_SIZE
from sbkcard.applet_model.tree import Structure
from sbkcard.applet_model.user_card import purse as P
from sbkcard.applet_model.user_card import recordfile
from sbkcard.applet_model.user_card.core import CardCore, Reply, sw_only
from sbkcard.applet_model.user_card.fcp import (
    COS_KIDS,
    EfHeader,
    KeyRecord,
    body_key,
    parent,
    proof_key,
)
from sbkcard.applet_model.user_card.session import PurseContext

__all__ = ["PurseCommands"]


def _bcd_time(digits: str) -> datetime.datetime | None:
    """A ``cn 7`` CCYYMMDDhhmmss, or ``None`` if it is not one."""
    try:
        return datetime.datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return None


class PurseCommands(CardCore):
    """The DF04 medical purse commands (Part 5 §7; Part 7 §11.8, §12.6, §14)."""

    def _purse_path(self) -> str | None:
        return self._child(
            self._session.df,
            lambda h: isinstance(h, EfHeader) and h.structure is Structure.PURSE,
        )

    def _purse_key(self, name: str, version: int | None = None) -> KeyRecord | None:
        return self._key(self._session.df, COS_KIDS[name], version)

    def _purse_step(self, command: P.Command) -> P.State | None:
        """The purse state after ``command`` per table 49, or ``None`` (then ``6901``)."""
        s = self._session
        after = P.TRANSITIONS.get((s.purse, command))
        if after is None:
            s.purse_idle()
        return after

    def _initialize(self, cmd: CommandAPDU) -> Reply:
        """INITIALIZE FOR LOAD ``B0 28 00 01`` / FOR PURCHASE ``B0 28 01 01`` (Part 5 §7.5–7.6)."""
        s = self._session
        if cmd.p1 not in (0x00, 0x01) or cmd.p2 != 0x01:
            raise CardRefusal(SW.WRONG_P1P2)
        purchase = cmd.p1 == 0x01
        step = P.Command.INITIALIZE_FOR_PURCHASE if purchase else P.Command.INITIALIZE_FOR_LOAD
        after = self._purse_step(step)
        if after is None:
            raise CardRefusal(SW.INVALID_STATE)
        body = bodies.INITIALIZE_FOR_PURCHASE if purchase else bodies.INITIALIZE_FOR_LOAD
        if len(cmd.data) != body.sizeof():
            raise CardRefusal(SW.WRONG_LENGTH)
        data = bodies.parse(body, cmd.data)
        path = self._purse_path()
        if path is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if not self._pin_satisfied(s.df):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        key = self._purse_key("DPK" if purchase else "DLK", data.key_index)
        if key is None:
            raise CardRefusal(SW.KEY_INDEX_NOT_SUPPORTED)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        random = self._random(4)
        head = {"key_version": key.version, "algorithm": key.algorithm.value, "random": random}
        if purchase:
            amounts = (data.account, data.self_paid, data.pooled)
            if purse.purchase_seq >= P.COUNTER_MAX:
                raise CardRefusal(SW.COUNTER_MAX)
            if amounts[0] > purse.balance:
                raise CardRefusal(SW.INSUFFICIENT_FUNDS)
            context = PurseContext(key.version, random, purse.purchase_seq, data.terminal, amounts)
            reply = bodies.build(
                bodies.INITIALIZE_FOR_PURCHASE_ANSWER,
                balance=purse.balance,
                spip=purse.spip,
                spfp=purse.spfp,
                year=purse.year,
                seq=purse.purchase_seq,
                **head,
            )
        else:
            amount, terminal = data.amount, data.terminal
            if purse.load_seq >= P.COUNTER_MAX:
                raise CardRefusal(SW.COUNTER_MAX)
            if purse.balance + amount > P.BALANCE_MAX:
                raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
            seslk = P.load_session_key(key.key, random, purse.load_seq, key.algorithm)
            mac1 = P.load_mac1(seslk, purse.balance, amount, terminal, key.algorithm)
            context = PurseContext(
                key.version, random, purse.load_seq, terminal, (amount, 0, 0), seslk
            )
            reply = bodies.build(
                bodies.INITIALIZE_FOR_LOAD_ANSWER,
                balance=purse.balance,
                seq=purse.load_seq,
                mac1=mac1,
                **head,
            )
        s.purse = after
        s.purse_context = context
        return reply, SW.OK

    def _log(self, path: str, record: bytes) -> tuple[str, bytes] | None:
        """The purse DF's EF08 with ``record`` added as the newest (Part 7 §11.8, §12.6)."""
        log = self._child(parent(path), lambda h: isinstance(h, EfHeader) and h.fid == 0xEF08)
        if log is None:
            return None
        header = self._headers[log]
        assert isinstance(header, EfHeader)
        records = recordfile.split(
            header.structure, header.record_length, self.storage.read(body_key(log)) or b""
        )
        records = [record[: header.record_length], *records][: header.records]
        return body_key(log), recordfile.join(records)

    @staticmethod
    def _body(body: Construct, data: bytes) -> Container | None:
        """``data`` read as ``body``, or ``None`` if a field does not fit (then ``6A80``)."""
        try:
            return bodies.parse(body, data)
        except bodies.BodyError:
            return None

    def _dtk(self) -> KeyRecord | None:
        return self._purse_key("DTK")

    def _debit(self, cmd: CommandAPDU) -> Reply:
        """DEBIT FOR PURCHASE ``B0 2C 01 00``: terminal seq ‖ time ‖ MAC1 → TAC ‖ MAC2."""
        s = self._session
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            raise CardRefusal(SW.WRONG_P1P2)
        if self._purse_step(P.Command.DEBIT_FOR_PURCHASE) is None:
            raise CardRefusal(SW.INVALID_STATE)
        if len(cmd.data) != bodies.DEBIT_FOR_PURCHASE.sizeof():
            raise CardRefusal(SW.WRONG_LENGTH)
        context, path = s.purse_context, self._purse_path()
        data = self._body(bodies.DEBIT_FOR_PURCHASE, cmd.data)
        when = None if data is None else _bcd_time(data.time)
        if data is None or when is None:
            raise CardRefusal(SW.WRONG_DATA)
        terminal_seq, time = data.terminal_seq.to_bytes(4, "big"), bytes.fromhex(data.time)
        dpk = self._purse_key("DPK", context.key_version) if context else None
        dtk = self._dtk()
        if context is None or path is None or dpk is None or dtk is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        alg = dpk.algorithm
        sespk = P.purchase_session_key(dpk.key, context.random, context.seq, terminal_seq, alg)
        expected = P.purchase_mac1(sespk, context.amounts, context.terminal, time, alg)
        if not hmac.compare_digest(expected, data.mac1):
            raise CardRefusal(SW.MAC_INVALID)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        account, self_paid, pooled = context.amounts
        if account > purse.balance:
            raise CardRefusal(SW.INSUFFICIENT_FUNDS)
        purse = P.settle_year(purse, when.date(), self_paid, pooled)
        if max(purse.spip, purse.spfp) > P.BALANCE_MAX:  # b 4, as the balance (S2 §7)
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        purse = P.PurseData(
            purse.load_seq,
            purse.purchase_seq + 1,
            purse.balance - account,
            purse.spip,
            purse.spfp,
            purse.year,
            purse.start,
        )
        mac2 = P.purchase_mac2(sespk, context.amounts, alg)
        tac = P.purchase_tac(dtk.key, context.amounts, context.terminal, terminal_seq, time, alg)
        record = (
            context.seq.to_bytes(2, "big")
            + P.PURCHASE
            + context.terminal
            + time
            + account.to_bytes(4, "big")
            + self_paid.to_bytes(4, "big")
            + pooled.to_bytes(4, "big")
        )
        self._commit_transaction(path, purse, record, P.PURCHASE, context.seq, mac2, tac)
        s.purse_idle()
        return bodies.build(bodies.DEBIT_FOR_PURCHASE_ANSWER, tac=tac, mac2=mac2), SW.OK

    def _commit_transaction(
        self,
        path: str,
        purse: P.PurseData,
        record: bytes,
        kind: bytes,
        seq: int,
        mac_value: bytes,
        tac: bytes,
    ) -> None:
        df = parent(path)
        proof = bodies.build(
            bodies.TRANSACTION_PROOF_RECORD, kind=kind[0], seq=seq, mac=mac_value, tac=tac
        )
        writes = {body_key(path): purse.to_bytes(), proof_key(df): proof}
        log = self._log(path, record)
        if log is not None:
            writes[log[0]] = log[1]
        self._write(writes)

    def _credit(self, cmd: CommandAPDU) -> Reply:
        """CREDIT FOR LOAD ``B0 2A 00 00``: host time ‖ MAC2 → TAC (Part 5 §7.1)."""
        s = self._session
        if cmd.p1 or cmd.p2:
            raise CardRefusal(SW.WRONG_P1P2)
        if self._purse_step(P.Command.CREDIT_FOR_LOAD) is None:
            raise CardRefusal(SW.INVALID_STATE)
        if len(cmd.data) != bodies.CREDIT_FOR_LOAD.sizeof():
            raise CardRefusal(SW.WRONG_LENGTH)
        context, path, dtk = s.purse_context, self._purse_path(), self._dtk()
        data = self._body(bodies.CREDIT_FOR_LOAD, cmd.data)
        if data is None or _bcd_time(data.time) is None:
            raise CardRefusal(SW.WRONG_DATA)
        time, mac2 = bytes.fromhex(data.time), data.mac2
        if context is None or path is None or dtk is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        amount = context.amounts[0]
        alg = dtk.algorithm
        expected = P.load_mac2(context.session_key, amount, context.terminal, time, alg)
        if not hmac.compare_digest(expected, mac2):
            raise CardRefusal(SW.MAC_INVALID)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        if purse.balance + amount > P.BALANCE_MAX:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        balance = purse.balance + amount
        purse = P.PurseData(
            purse.load_seq + 1,
            purse.purchase_seq,
            balance,
            purse.spip,
            purse.spfp,
            purse.year,
            purse.start,
        )
        tac = P.load_tac(dtk.key, balance, context.seq, amount, context.terminal, time, alg)
        record = (
            context.seq.to_bytes(2, "big")
            + P.LOAD
            + context.terminal
            + time
            + amount.to_bytes(4, "big")
            + bytes(8)
        )
        self._commit_transaction(path, purse, record, P.LOAD, context.seq, mac2, tac)
        s.purse_idle()
        return bodies.build(bodies.CREDIT_FOR_LOAD_ANSWER, tac=tac), SW.OK

    def _get_balance(self, cmd: CommandAPDU) -> Reply:
        """GET BALANCE ``B0 26 00 01/02/03`` (Part 5 §7.3): CIA, or SPIP/SPFP ‖ year."""
        if cmd.p1 or cmd.p2 not in (0x01, 0x02, 0x03):
            raise CardRefusal(SW.WRONG_P1P2)
        after = self._purse_step(P.Command.GET_BALANCE)
        if after is None:
            raise CardRefusal(SW.INVALID_STATE)
        if cmd.data or cmd.le != (4 if cmd.p2 == 0x01 else 6):
            raise CardRefusal(SW.WRONG_LENGTH)
        path = self._purse_path()
        if path is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if not self._pin_satisfied(self._session.df):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or b"")
        if cmd.p2 == 0x01:
            return bodies.build(bodies.GET_BALANCE_ANSWER, balance=purse.balance), SW.OK
        body = bodies.GET_SPIP_ANSWER if cmd.p2 == 0x02 else bodies.GET_SPFP_ANSWER
        return bodies.build(body, **asdict(purse)), SW.OK

    def _get_proof(self, cmd: CommandAPDU) -> Reply:
        """GET TRANSACTION PROOF ``B0 2E 00 type 02 seq`` → MAC ‖ TAC (Part 5 §7.4; Part 7 §14)."""
        if cmd.p1:
            raise CardRefusal(SW.WRONG_P1P2)
        if self._purse_step(P.Command.GET_TRANSACTION_PROOF) is None:
            raise CardRefusal(SW.INVALID_STATE)
        if len(cmd.data) != 2:
            raise CardRefusal(SW.WRONG_LENGTH)
        path = self._purse_path()
        if path is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        raw = self.storage.read(proof_key(parent(path)))
        asked = bodies.parse(bodies.GET_TRANSACTION_PROOF, cmd.data)
        proof = None if raw is None else bodies.parse(bodies.TRANSACTION_PROOF_RECORD, raw)
        if proof is None or proof.kind != cmd.p2 or proof.seq != asked.seq:
            raise CardRefusal(SW.MAC_NOT_AVAILABLE)
        return bodies.build(
            bodies.GET_TRANSACTION_PROOF_ANSWER, mac=proof.mac, tac=proof.tac
        ), SW.OK

    def _starting_day(self, cmd: CommandAPDU) -> Reply:
        """UPDATE STARTING DAY ``B0 56 00 00`` (DSK) / GET STARTING DAY ``B0 56 01 00``."""
        s = self._session
        if cmd.p2 or cmd.p1 not in (0x00, 0x01):
            raise CardRefusal(SW.WRONG_P1P2)
        path = self._purse_path()
        if cmd.p1 == 0x01:
            if cmd.data or cmd.le != 2:
                raise CardRefusal(SW.WRONG_LENGTH)
            if path is None:
                raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
            if not self._pin_satisfied(s.df):
                raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
            purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or bytes(PURSE_SIZE))
            return bodies.build(bodies.STARTING_DAY, start=purse.start), SW.OK
        if len(cmd.data) != 2:
            raise CardRefusal(SW.WRONG_LENGTH)
        if path is None:
            raise CardRefusal(SW.CONDITIONS_NOT_SATISFIED)
        if not s.authenticated(s.df, COS_KIDS["DSK"]):
            raise CardRefusal(SW.SECURITY_NOT_SATISFIED)
        data = self._body(bodies.STARTING_DAY, cmd.data)
        if data is None or _bcd_time(f"2000{data.start}000000") is None:
            raise CardRefusal(SW.WRONG_DATA)
        purse = P.PurseData.from_bytes(self.storage.read(body_key(path)) or bytes(PURSE_SIZE))
        self._write({body_key(path): replace(purse, start=data.start).to_bytes()})
        return sw_only(SW.OK)
