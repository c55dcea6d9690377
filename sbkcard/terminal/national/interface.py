"""The national reader interface (人社信息函[2016]38号; S3 "升级部分接口定义").

:class:`NationalInterface` offers the standard's functions, with the standard's names
and arguments, over a :class:`~sbkcard.terminal.terminal.Terminal`; each returns
``(code, pOutInfo)``: ``0`` and the ``|``-separated output string (every field
``|``-terminated), or a negative code and the error text (S3 App. A, declared in
:mod:`sbkcard.terminal.national.codes`; a card status word is ``-(SW1·256+SW2)``).
HIS code ported from the vendor DLLs gets the same strings byte for byte.

PSAM functions (one transaction each: the card and the PSAM are powered at the start
and down at the end, S3 §1.1.3): :meth:`~NationalInterface.iReadCardBas`,
:meth:`~NationalInterface.iReadCard`, :meth:`~NationalInterface.iWriteCard`,
:meth:`~NationalInterface.iVerifyPIN`, :meth:`~NationalInterface.iChangePIN`,
:meth:`~NationalInterface.iReloadPIN`, :meth:`~NationalInterface.iUnblockPIN`,
:meth:`~NationalInterface.iDoDebit`, :meth:`~NationalInterface.iReadDebitRecord`.
Without a PSAM they answer ``-2201`` where they need one, and the business system falls
back (S3 §10.5) to the HSM functions ``*_HSM_Step1/2/3``: step 1 returns what the HSM
must compute (the card keeps its challenges, so the card stays powered), step 2 (and 3)
take the HSM's answer.  :class:`~sbkcard.terminal.security.hsm_host.HsmHost` plays the HSM side
for tests and the demo.

PKI functions (LD/T 6001.5-2023 §7, over the card's certificate application, see
:mod:`sbkcard.terminal.operations.pki`): :meth:`~NationalInterface.PKI_SignData`,
:meth:`~NationalInterface.PKI_VerifySign`, :meth:`~NationalInterface.PKI_EnvelopeEncrypt`,
:meth:`~NationalInterface.PKI_EnvelopeDecrypt`.  They take the PIN as an argument; it
reaches the card only as a cryptogram and appears in no trace or message.  The standard
lists no HSM-mode variant of them.  Codes where the table has none: ``-42`` for data
over 1 MiB, ``-22`` (签名验证失败) for a signature that does not verify.

Choices where S3 is silent, and why:

* iType 2 (contactless only) answers ``-1`` on a terminal without a contactless reader;
  3 and 4 take whichever reader holds a card (:meth:`Terminal.reader_for
  <sbkcard.terminal.terminal.Terminal.reader_for>`);
* iDoDebit's amounts (总金额, 账户+统筹金额) go to the card as account ``0``, self-paid =
  total, pooled = account + pooled: the output's 交易金额 is "the last two amounts of
  the card command" and with a zero account amount those two are all the TAC needs;
  iReadDebitRecord maps a record back as total = account + self-paid, sum = account +
  pooled;
* the key address of iDoDebit's output is the DTK's (the TAC's key, for the settlement
  check of App. C.7); that of iDoDebit_HSM_Step1 the DPK's (MAC1);
* the unblock and reload functions authenticate with the PUK and MAC with STKSSSE (see
  :mod:`sbkcard.terminal.operations.pin`).

One string carries a secret by the standard's design: iReloadPIN_HSM_Step2 returns the
new PIN in clear (S3 §6.3.2, "APDU 命令明文数据（新 PIN）") for the HSM to encipher; treat
it as the PIN it is.  Nothing else returned, logged or traced holds a PIN or a key.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from sbkcard.apdu import CommandAPDU, bodies
from sbkcard.apdu import builders as b
from sbkcard.applet_model.ssse import Layout
from sbkcard.applet_model.tree import Rule
from sbkcard.errors import SbkcardError
from sbkcard.keys.hierarchy import KeySpec, card_key
from sbkcard.terminal.connection import AuthPreference, Connection
from sbkcard.terminal.errors import (
    AuthenticityError,
    InvalidInputError,
    NoPsamError,
    UnconfirmedPurchaseError,
    UnsupportedCardError,
)
from sbkcard.terminal.national.codes import TEXT, Code, code_for
from sbkcard.terminal.national.steps import (
    TRANSITIONS,
    AwaitBasicInfo,
    AwaitDebit,
    AwaitKeyedFile,
    AwaitPinCommand,
    AwaitPinMac,
    Waiting,
)
from sbkcard.terminal.operations import fileaddr, files, pin, pki, purse
from sbkcard.terminal.operations.auth import internal_authenticate
from sbkcard.terminal.operations.basic import (
    BasicInfo,
    basic_info,
    read_basic_info,
    read_cardholder,
)
from sbkcard.terminal.operations.pinpad import enter_new_pin
from sbkcard.terminal.security.base import hsm_address
from sbkcard.terminal.terminal import Terminal

Result = tuple[int, str]
MAX_AMOUNT = Decimal("42949672.95")


def fields(*values: str) -> str:
    """``a|b|c|``: the interface's field list, each field ``|``-terminated (S3 §1.1.2)."""
    return "".join(f"{v}|" for v in values)


def split_fields(text: str, count: int, what: str) -> list[str]:
    """The ``count`` fields of a ``|``-terminated string (a trailing ``|`` is required).

    The error does not quote ``text``: some of these strings carry a PIN (S3 §6.3.2).
    """
    if not text.endswith("|"):
        raise InvalidInputError(f"{what}: the last field must end with '|'")
    parts = text[:-1].split("|")
    if len(parts) != count:
        raise InvalidInputError(f"{what}: {count} fields expected, got {len(parts)}")
    return parts


def national_date(day: dt.date | None) -> str:
    """A date as the national strings write it, ``YYYYMMDD`` (empty: none)."""
    return "" if day is None else f"{day:%Y%m%d}"


def basic_string(info: BasicInfo) -> str:
    """iReadCardBas's pOutInfo (S3 §1.1.2)."""
    return fields(
        info.region,
        info.holder.ssn,
        info.issuer.card_number,
        "" if info.issuer.card_id is None else info.issuer.card_id.hex,
        info.holder.name,
        info.history.hex().upper(),
        info.issuer.version,
        national_date(info.issue_date),
        national_date(info.expiry),
        info.terminal_number,
        info.device_number,
    )


def parse_card_info(text: str) -> tuple[str, str]:
    """pCardInfo ``卡识别码|卡号|`` → (card id, card number); ``-20`` for a bad card id."""
    card_id, number = split_fields(text, 2, "pCardInfo")
    if len(card_id) != 32 or any(c not in "0123456789ABCDEFabcdef" for c in card_id):
        raise _CardIdFormat(f"card identification code must be 32 hex characters: {card_id!r}")
    if not number:
        raise InvalidInputError("pCardInfo: empty card number")
    return card_id.upper(), number.upper()


class _CardIdFormat(InvalidInputError):
    """pCardInfo's card identification code is malformed (-20)."""


def parse_amount(text: str, what: str) -> int:
    """A decimal amount in yuan with at most two decimals → fen."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInputError(f"{what}: {text!r} is not an amount") from None
    if value < 0 or value > MAX_AMOUNT or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInputError(f"{what}: {text!r} must be 0..42949672.95 with two decimals")
    return int(value * 100)


def yuan(fen: int) -> str:
    """Fen as the interface's decimal yuan with two decimals."""
    return f"{fen // 100}.{fen % 100:02d}"


def parse_time(text: str) -> dt.datetime:
    """``YYYYMMDDHHMMSS`` → datetime."""
    try:
        if len(text) != 14:
            raise ValueError(text)
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidInputError(f"time must be YYYYMMDDHHMMSS, got {text!r}") from None


def parse_hex(text: str, what: str, length: int | None = None) -> bytes:
    """Bytes written in hex (``length`` of them when given: ``2 * length`` characters)."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidInputError(f"{what}: {text!r} is not hex") from None
    if length is not None and len(raw) != length:
        raise InvalidInputError(f"{what}: {2 * length} hex characters expected, got {len(text)}")
    return raw


@dataclass
class _Pending:
    """An HSM operation between its steps: the card stays powered (:mod:`.steps`)."""

    function: str
    """The step that may come next."""
    stack: ExitStack
    conn: Connection
    state: Waiting | None = None
    """What the next step needs (``None`` while step 1 runs)."""


_W = TypeVar("_W")


class NationalInterface:
    """The national reader interface over ``terminal`` (see the module docstring)."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self._pending: _Pending | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, body: Callable[[], str]) -> Result:
        try:
            return 0, body()
        except _CardIdFormat as exc:
            return int(Code.CARD_ID_FORMAT), f"卡识别码格式错：{exc}"
        except SbkcardError as exc:
            return code_for(exc)

    def _check_type(self, i_type: int) -> None:
        """Check iType and make it the terminal's interface for this call (S3 §1.1.2)."""
        if i_type not in (1, 2, 3, 4):
            raise InvalidInputError(f"iType must be 1, 2, 3 or 4, got {i_type}")
        if i_type == 2 and self.terminal.contactless_reader is None:
            raise UnsupportedCardError("contactless operation (iType 2): no contactless reader")
        self.terminal.interface = i_type

    def _require_psam(self) -> None:
        if self.terminal.psam_reader is None:
            raise NoPsamError("no PSAM in the reader")

    def _abandon(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.stack.close()

    def _begin(
        self, function: str, i_type: int, expect: tuple[str, str] | None = None
    ) -> Connection:
        self._abandon()
        self._check_type(i_type)
        stack = ExitStack()
        try:
            conn = stack.enter_context(self.terminal.session(expect=expect, hsm=False))
        except BaseException:
            stack.close()
            raise
        self._pending = _Pending(function, stack, conn)
        return conn

    def _step(self, function: str) -> _Pending:
        pending = self._pending
        if pending is None or pending.function != function:
            self._abandon()
            raise _NotConnected(f"{function}: call its previous step first")
        return pending

    def _run_step(
        self,
        function: str,
        kind: type[_W],
        body: Callable[[Connection, _W], tuple[str, Waiting | None]],
    ) -> Result:
        """Run a later HSM step on the state of ``kind`` the previous one left.

        The card stays up when :data:`~.steps.TRANSITIONS` names a step after this one.
        """
        try:
            pending = self._step(function)
            state = pending.state
            if not isinstance(state, kind):
                self._abandon()
                raise _NotConnected(f"{function}: call its previous step first")
            out, after = body(pending.conn, state)
        except _NotConnected as exc:
            return int(Code.NOT_CONNECTED), f"未建立连接：{exc}"
        except SbkcardError as exc:
            self._abandon()
            return code_for(exc)
        following = TRANSITIONS.get(function)
        if following is None:
            self._abandon()
        else:
            pending.function, pending.state = following[0], after
        return 0, out

    def _first_step(self, function: str, body: Callable[[], tuple[str, Waiting]]) -> Result:
        """Run step 1; on success the card stays up, waiting for the step that follows."""
        try:
            out, state = body()
        except _CardIdFormat as exc:
            self._abandon()
            return int(Code.CARD_ID_FORMAT), f"卡识别码格式错：{exc}"
        except _HsmNotNeeded as exc:
            self._abandon()
            return int(Code.HSM_NOT_NEEDED), f"{TEXT[Code.HSM_NOT_NEEDED]}：{exc}"
        except SbkcardError as exc:
            self._abandon()
            return code_for(exc)
        if self._pending is not None:
            self._pending.function, self._pending.state = TRANSITIONS[function][0], state
        return 0, out

    # -- 1 读基本信息 -------------------------------------------------------------------------

    def iReadCardBas(self, iType: int) -> Result:
        """读基本信息 (S3 §1.1): internal authentication, RKSSSE on 3.0 cards, EF05/EF06."""

        def body() -> str:
            self._check_type(iType)
            self._require_psam()
            with self.terminal.session(hsm=False) as conn:
                return basic_string(read_basic_info(conn))

        return self._run(body)

    def iReadCardBas_HSM_Step1(self, iType: int) -> Result:
        """基于加密机的读基本信息（步骤一）(S3 §1.2): the challenges for the HSM."""

        def body() -> tuple[str, Waiting]:
            conn = self._begin("iReadCardBas_HSM_Step1", iType)
            ctx = conn.ctx
            card = conn.card
            original = card.call(b.get_challenge(8), "GET CHALLENGE")
            factor = card.call(b.get_challenge(8), "GET CHALLENGE")
            answer = internal_authenticate(conn, factor, original)
            ea_factor = ea_original = ""
            if conn.layout is Layout.V3:
                ea_original = card.call(b.get_challenge(8), "GET CHALLENGE").hex().upper()
                ea_factor = card.call(b.get_challenge(8), "GET CHALLENGE").hex().upper()
            waiting = AwaitBasicInfo(answer, original, external=bool(ea_factor))
            return fields(
                ctx.region,
                ctx.history.hex().upper(),
                f"{ctx.algorithm.value:02X}",
                ctx.card_id_hex,
                factor.hex().upper(),
                original.hex().upper(),
                ea_factor,
                ea_original,
            ), waiting

        return self._first_step("iReadCardBas_HSM_Step1", body)

    def iReadCardBas_HSM_Step2(self, pKey: str) -> Result:
        """基于加密机的读基本信息（步骤二）(S3 §1.3): check the card, authenticate, read."""

        def body(conn: Connection, state: AwaitBasicInfo) -> tuple[str, None]:
            internal, external = split_fields(pKey, 2, "pKey")
            expected = parse_hex(internal, "internal authentication result", 16)
            if expected[8:] != state.original:
                raise InvalidInputError("pKey: the internal authentication's original data differ")
            if not hmac.compare_digest(expected[:8], state.answer):
                raise AuthenticityError("the card's IRK answer does not match the HSM's")
            if state.external:
                data = parse_hex(external, "external authentication result", 16)
                _external(conn, card_key("RKSSSE"), data)
            elif external:
                raise InvalidInputError("pKey: no external authentication was asked for")
            return basic_string(basic_info(conn, read_cardholder(conn), genuine=True)), None

        return self._run_step("iReadCardBas_HSM_Step2", AwaitBasicInfo, body)

    # -- 2 通用读卡 ---------------------------------------------------------------------------

    def iReadCard(
        self,
        iType: int,
        iAuthType: int,
        pCardInfo: str,
        pFileAddr: str,
    ) -> Result:
        """通用读卡 (S3 §2.1): PIN (iAuthType 1) or key (2) as each file's rule needs."""

        def body() -> str:
            self._check_type(iType)
            if iAuthType not in (1, 2):
                raise InvalidInputError(f"iAuthType must be 1 (PIN) or 2 (RK), got {iAuthType}")
            expect = parse_card_info(pCardInfo)
            fileaddr.parse(pFileAddr)
            with self.terminal.session(expect=expect, hsm=False) as conn:
                prefer = AuthPreference(iAuthType)
                return files.read_address(conn, pFileAddr, prefer=prefer).national()

        return self._run(body)

    def _key_step1(
        self, function: str, i_type: int, card_info: str, address: str, write: bool
    ) -> Result:
        """Step 1 of iReadCard/iWriteCard_HSM: the key of the first file, its challenges."""

        def body() -> tuple[str, Waiting]:
            expect = parse_card_info(card_info)
            request = fileaddr.parse(address)[0]
            conn = self._begin(f"{function}_HSM_Step1", i_type, expect)
            ef = conn.ef(request.df, request.ef)
            access = ef.write if write else ef.read
            if access.rule is Rule.NEVER:
                verb = "written" if write else "read"
                raise InvalidInputError(f"{request.name} cannot be {verb}")
            if access.rule in (Rule.FREE, Rule.PIN) or access.key is None:
                raise _HsmNotNeeded(f"{request.name}: no key protects this file")
            key = card_key(access.key)
            conn.select(key.df)
            if access.rule is Rule.PIN_AND_KEY:
                conn.verify_pin()
            address_text = fileaddr.format_values([(request, [i.token for i in request.items])])
            return _challenges(conn, key), AwaitKeyedFile(key, address_text)

        return self._first_step(f"{function}_HSM_Step1", body)

    def iReadCard_HSM_Step1(
        self,
        iType: int,
        pCardInfo: str,
        pFileAddr: str,
    ) -> Result:
        """基于加密机的通用读卡（步骤一）(S3 §2.2): the first file's key and challenges."""
        return self._key_step1("iReadCard", iType, pCardInfo, pFileAddr, write=False)

    def iReadCard_HSM_Step2(self, pKey: str) -> Result:
        """基于加密机的通用读卡（步骤二）(S3 §2.3): authenticate, read the first file."""

        def body(conn: Connection, state: AwaitKeyedFile) -> tuple[str, None]:
            _external(conn, state.key, parse_hex(pKey, "pKey", 16))
            read = files.read_address(conn, state.address, prefer=AuthPreference.KEY)
            return read.national(), None

        return self._run_step("iReadCard_HSM_Step2", AwaitKeyedFile, body)

    # -- 3 通用写卡 ---------------------------------------------------------------------------

    def iWriteCard(
        self,
        iType: int,
        pCardInfo: str,
        pFileAddr: str,
        pWriteData: str,
    ) -> Result:
        """通用写卡 (S3 §3.1): external authentication through the PSAM, write, verify."""

        def body() -> str:
            self._check_type(iType)
            expect = parse_card_info(pCardInfo)
            fileaddr.parse_values(pWriteData, fileaddr.parse(pFileAddr))
            self._require_psam()
            with self.terminal.session(expect=expect, hsm=False) as conn:
                files.write_address(conn, pFileAddr, pWriteData)
            return ""

        return self._run(body)

    def iWriteCard_HSM_Step1(
        self,
        iType: int,
        pCardInfo: str,
        pFileAddr: str,
    ) -> Result:
        """基于加密机的通用写卡（步骤一）(S3 §3.2)."""
        return self._key_step1("iWriteCard", iType, pCardInfo, pFileAddr, write=True)

    def iWriteCard_HSM_Step2(self, pKey: str, pWriteData: str) -> Result:
        """基于加密机的通用写卡（步骤二）(S3 §3.3): authenticate, write the first file."""

        def body(conn: Connection, state: AwaitKeyedFile) -> tuple[str, None]:
            first = pWriteData.split("$", 1)[0] + "$"
            fileaddr.parse_values(first, fileaddr.parse(state.address))
            _external(conn, state.key, parse_hex(pKey, "pKey", 16))
            files.write_address(conn, state.address, first)
            return "", None

        return self._run_step("iWriteCard_HSM_Step2", AwaitKeyedFile, body)

    # -- 4, 5 PIN 校验、修改 ------------------------------------------------------------------

    def iVerifyPIN(self, iType: int) -> Result:
        """PIN 校验 (S3 §4.1): the PIN from the PIN pad; tries left on failure."""

        def body() -> str:
            self._check_type(iType)
            with self.terminal.session(hsm=False) as conn:
                pin.verify_pin(conn)
            return ""

        return self._run(body)

    def iChangePIN(self, iType: int) -> Result:
        """PIN 修改 (S3 §5.1): old PIN, new PIN twice, on the PIN pad."""

        def body() -> str:
            self._check_type(iType)
            with self.terminal.session(hsm=False) as conn:
                pin.change_pin(conn)
            return ""

        return self._run(body)

    # -- 6, 7 PIN 重置、解锁 ------------------------------------------------------------------

    def iReloadPIN(self, iType: int, pCardInfo: str) -> Result:
        """PIN 重置 (S3 §6.1): a new PIN typed twice, set with the PSAM's keys."""
        return self._maintenance(iType, pCardInfo, pin.reload_pin)

    def iUnblockPIN(self, iType: int, pCardInfo: str) -> Result:
        """PIN 解锁 (S3 §7.1): the tries counter reset with the PSAM's keys."""
        return self._maintenance(iType, pCardInfo, pin.unblock_pin)

    def _maintenance(
        self, i_type: int, card_info: str, operation: Callable[[Connection], object]
    ) -> Result:
        """A PIN reload or unblock through the PSAM, on the card ``card_info`` names."""

        def body() -> str:
            self._check_type(i_type)
            expect = parse_card_info(card_info)
            self._require_psam()
            with self.terminal.session(expect=expect, hsm=False) as conn:
                operation(conn)
            return ""

        return self._run(body)

    def _maintenance_step1(self, function: str, i_type: int, card_info: str) -> Result:
        """Step 1 of ``function`` (iReloadPIN or iUnblockPIN): the PUK's challenges."""

        def body() -> tuple[str, Waiting]:
            conn = self._begin(f"{function}_HSM_Step1", i_type, parse_card_info(card_info))
            key = card_key(pin.AUTH_KEY)
            conn.select(key.df)
            return _challenges(conn, key), AwaitPinCommand(key)

        return self._first_step(f"{function}_HSM_Step1", body)

    def _maintenance_step2(self, function: str, p_key: str, p2: b.PinOperation) -> Result:
        """Step 2: authenticate with the HSM's answer; the command for the HSM to MAC."""

        def body(conn: Connection, state: AwaitPinCommand) -> tuple[str, Waiting]:
            _external(conn, state.key, parse_hex(p_key, "pKey", 16))
            plain = ""
            body_length = 0
            if p2 is b.PinOperation.RELOAD:
                new = enter_new_pin(conn.pad())
                plain = new.reveal()
                size = conn.ctx.algorithm.block_size
                body_length = pin.enciphered_length(len(new.encode()), size)
            header = bytes([0x84, 0x24, 0x00, p2, body_length + 4])
            challenge = conn.card.call(b.get_challenge(8), "GET CHALLENGE")
            return fields(
                f"{conn.ctx.algorithm.value:02X}",
                hsm_address(card_key(pin.MAC_KEY), 1),
                challenge.hex().upper(),
                header.hex().upper(),
                plain,
            ), AwaitPinMac(header)

        return self._run_step(f"{function}_HSM_Step2", AwaitPinCommand, body)

    def _maintenance_step3(self, function: str, p_key: str) -> Result:
        """Step 3: the HSM's command (header ‖ [enciphered PIN] ‖ MAC) to the card."""

        def body(conn: Connection, state: AwaitPinMac) -> tuple[str, None]:
            header = state.header
            raw = parse_hex(p_key, "pKey", 5 + header[4])
            if raw[:5] != header:
                raise InvalidInputError(
                    f"pKey: the command header must be {header.hex().upper()}, "
                    f"got {raw[:5].hex().upper()}"
                )
            operation = b.PinOperation(header[3]).name.lower()
            command = CommandAPDU(0x84, 0x24, 0x00, header[3], raw[5:])
            conn.card.call(command, f"PIN CHANGE/UNBLOCK ({operation})")
            return "", None

        return self._run_step(f"{function}_HSM_Step3", AwaitPinMac, body)

    def iReloadPIN_HSM_Step1(self, iType: int, pCardInfo: str) -> Result:
        """基于加密机的 PIN 重置（步骤一）(S3 §6.2): the authentication's challenges."""
        return self._maintenance_step1("iReloadPIN", iType, pCardInfo)

    def iReloadPIN_HSM_Step2(self, pKey: str) -> Result:
        """基于加密机的 PIN 重置（步骤二）(S3 §6.3): authenticate, new PIN, what to MAC."""
        return self._maintenance_step2("iReloadPIN", pKey, b.PinOperation.RELOAD)

    def iReloadPIN_HSM_Step3(self, pKey: str) -> Result:
        """基于加密机的 PIN 重置（步骤三）(S3 §6.4): header ‖ enciphered PIN ‖ MAC."""
        return self._maintenance_step3("iReloadPIN", pKey)

    def iUnblockPIN_HSM_Step1(self, iType: int, pCardInfo: str) -> Result:
        """基于加密机的 PIN 解锁（步骤一）(S3 §7.2)."""
        return self._maintenance_step1("iUnblockPIN", iType, pCardInfo)

    def iUnblockPIN_HSM_Step2(self, pKey: str) -> Result:
        """基于加密机的 PIN 解锁（步骤二）(S3 §7.3): authenticate, what to MAC."""
        return self._maintenance_step2("iUnblockPIN", pKey, b.PinOperation.UNBLOCK)

    def iUnblockPIN_HSM_Step3(self, pKey: str) -> Result:
        """基于加密机的 PIN 解锁（步骤三）(S3 §7.4): header ‖ MAC (18 hex characters)."""
        return self._maintenance_step3("iUnblockPIN", pKey)

    # -- 8 消费交易 ---------------------------------------------------------------------------

    def iDoDebit(self, iType: int, pCardInfo: str, pPayInfo: str) -> Result:
        """消费交易 (S3 §8.1): PIN, MAC1 from the PSAM, debit, MAC2 checked, the TAC."""

        def body() -> str:
            self._check_type(iType)
            expect = parse_card_info(pCardInfo)
            total, paid, when = _pay_info(pPayInfo)
            self._require_psam()
            with self.terminal.session(expect=expect, hsm=False) as conn:
                try:
                    done = purse.purchase(conn, account=0, self_paid=total, pooled=paid, time=when)
                except UnconfirmedPurchaseError as exc:
                    exc.settlement = _settlement(exc.result, conn)
                    raise
                return _settlement(done, conn)

        return self._run(body)

    def iDoDebit_HSM_Step1(
        self,
        iType: int,
        pCardInfo: str,
        pPayInfo: str,
    ) -> Result:
        """基于加密机的消费交易（步骤一）(S3 §8.2): PIN, INITIALIZE FOR PURCHASE."""

        def body() -> tuple[str, Waiting]:
            expect = parse_card_info(pCardInfo)
            total, paid, when = _pay_info(pPayInfo)
            conn = self._begin("iDoDebit_HSM_Step1", iType, expect)
            conn.select(purse.DF04)
            conn.verify_pin()
            terminal = bytes.fromhex(conn.terminal_number())
            answer = conn.card.call_body(
                b.initialize_for_purchase(1, 0, total, paid, terminal),
                bodies.INITIALIZE_FOR_PURCHASE_ANSWER,
                "INITIALIZE FOR PURCHASE",
            )
            seq, version, random = answer.seq, answer.key_version, answer.random
            amounts = f"{total:08X}{paid:08X}"
            return fields(
                f"{conn.ctx.algorithm.value:02X}",
                hsm_address(card_key("DPK"), version),
                random.hex().upper(),
                f"{seq:04X}",
                amounts,
                chr(purse.PURCHASE_TYPE),
                terminal.hex().upper(),
                when.strftime("%Y%m%d%H%M%S"),
            ), AwaitDebit(amounts, terminal, version)

        return self._first_step("iDoDebit_HSM_Step1", body)

    def iDoDebit_HSM_Step2(self, pKey: str) -> Result:
        """基于加密机的消费交易（步骤二）(S3 §8.3): DEBIT FOR PURCHASE with the HSM's MAC1."""

        def body(conn: Connection, state: AwaitDebit) -> tuple[str, None]:
            seq_text, time_text, mac1_text = split_fields(pKey, 3, "pKey")
            terminal_seq = int.from_bytes(parse_hex(seq_text, "terminal sequence", 4))
            when = parse_time(time_text)
            mac1 = parse_hex(mac1_text, "MAC1", 4)
            proof = conn.card.call_body(
                b.debit_for_purchase(terminal_seq, when, mac1),
                bodies.DEBIT_FOR_PURCHASE_ANSWER,
                "DEBIT FOR PURCHASE",
            )
            tac, mac2 = proof.tac, proof.mac2
            return fields(
                mac2.hex().upper(),
                f"{conn.ctx.algorithm.value:02X}",
                hsm_address(card_key("DTK"), state.version),
                state.amounts,
                chr(purse.PURCHASE_TYPE),
                state.terminal.hex().upper(),
                f"{terminal_seq:08X}",
                when.strftime("%Y%m%d%H%M%S"),
                tac.hex().upper(),
            ), None

        return self._run_step("iDoDebit_HSM_Step2", AwaitDebit, body)

    # -- 9 读消费交易记录 --------------------------------------------------------------------

    def iReadDebitRecord(self, iType: int) -> Result:
        """读消费交易记录 (S3 §9.1): the PIN, then every purchase record of EF08."""

        def body() -> str:
            self._check_type(iType)
            with self.terminal.session(hsm=False) as conn:
                records = purse.transactions(conn)
            rows = [
                fileaddr.format_record(
                    [
                        str(r.seq),
                        r.terminal,
                        r.time,
                        yuan(r.account + r.self_paid),
                        yuan(r.account + r.pooled),
                    ]
                )
                for r in records
                if r.kind == chr(purse.PURCHASE_TYPE)
            ]
            return fields(*rows)

        return self._run(body)

    # -- 10 PKI (LD/T 6001.5-2023 §7) ----------------------------------------------------------

    def _run_pki(self, body: Callable[[], str]) -> Result:
        try:
            return 0, body()
        except pki.InputTooLongError as exc:
            return int(Code.BAD_DATA_LENGTH), f"{TEXT[Code.BAD_DATA_LENGTH]}：{exc}"
        except pki.SignatureInvalidError as exc:
            return int(Code.DATA_MISMATCH), f"签名验证失败：{exc}"
        except SbkcardError as exc:
            return code_for(exc)

    def PKI_SignData(self, pUserPin: str, pInData: str, iType: int) -> Result:
        """数字签名 (LD/T 6001.5-2023 §7): the card signs pInData (GB 18030) with SM2.

        pOutInfo: ``签名值|``, the signature ``r ‖ s`` in hex (128 characters).  The PIN
        is verified through its hash's cryptogram; it appears in no trace or message.
        """

        def body() -> str:
            self._check_type(iType)
            data = pki.text_bytes(pInData, "pInData")
            with self.terminal.session(hsm=False) as conn:
                pki.select_application(conn.card, pki.PROFILE)
                pki.verify_user_pin(conn.card, pki.PROFILE, pUserPin)
                signature, _ = pki.sign(conn.card, pki.PROFILE, data)
            return fields(signature.hex().upper())

        return self._run_pki(body)

    def PKI_VerifySign(
        self, pUserPin: str, pCert: str, pClearText: str, pSignature: str, iType: int
    ) -> Result:
        """验证签名 (LD/T 6001.5-2023 §7): pSignature over pClearText under pCert.

        pCert is the certificate (base64, PEM or hex DER); empty: the card's signing
        certificate, read from the card after the PIN (when one is given) is verified.
        pSignature is ``r ‖ s`` or DER, in hex or base64.  0 and ``1|`` when it verifies;
        ``-22`` (签名验证失败) when it does not.
        """

        def body() -> str:
            self._check_type(iType)
            data = pki.text_bytes(pClearText, "pClearText")
            signature = pki.parse_signature(pSignature)
            cert = pki.parse_certificate(pCert) if pCert else b""
            if not cert:
                with self.terminal.session(hsm=False) as conn:
                    pki.select_application(conn.card, pki.PROFILE)
                    if pUserPin:
                        pki.verify_user_pin(conn.card, pki.PROFILE, pUserPin)
                    cert = pki.card_certificate(conn.card, pki.PROFILE)
            pki.verify_signature(cert, data, signature)
            return fields("1")

        return self._run_pki(body)

    def PKI_EnvelopeEncrypt(self, pCert: str, pInData: str, iType: int) -> Result:
        """数字信封加密 (LD/T 6001.5-2023 §7): pInData sealed for pCert's holder.

        pCert empty: the card's encryption certificate (read from the card).  pOutInfo:
        ``会话密钥密文|数据密文|`` in hex (SM2 ``C1 ‖ C3 ‖ C2`` of an SM4 key; ``IV ‖
        SM4-CBC`` of the GB 18030 text).
        """

        def body() -> str:
            self._check_type(iType)
            data = pki.text_bytes(pInData, "pInData")
            cert = pki.parse_certificate(pCert) if pCert else b""
            if not cert:
                with self.terminal.session(hsm=False) as conn:
                    pki.select_application(conn.card, pki.PROFILE)
                    cert = pki.read_certificate(conn.card, pki.PROFILE, pki.PROFILE.enc_certificate)
            wrapped, sealed = pki.seal_envelope(cert, data)
            return fields(wrapped.hex().upper(), sealed.hex().upper())

        return self._run_pki(body)

    def PKI_EnvelopeDecrypt(self, pUserPin: str, pInData: str, iType: int) -> Result:
        """数字信封解密 (LD/T 6001.5-2023 §7): the card opens an envelope after the PIN.

        pInData is PKI_EnvelopeEncrypt's output; pOutInfo ``明文|``.
        """

        def body() -> str:
            self._check_type(iType)
            wrapped_hex, sealed_hex = split_fields(pInData, 2, "pInData")
            wrapped = parse_hex(wrapped_hex, "pInData (会话密钥密文)")
            sealed = parse_hex(sealed_hex, "pInData (数据密文)")
            with self.terminal.session(hsm=False) as conn:
                pki.select_application(conn.card, pki.PROFILE)
                pki.verify_user_pin(conn.card, pki.PROFILE, pUserPin)
                clear = pki.open_envelope(conn.card, pki.PROFILE, wrapped, sealed)
            try:
                return fields(clear.decode("gb18030"))
            except UnicodeDecodeError:
                raise InvalidInputError("the envelope's data is not GB 18030 text") from None

        return self._run_pki(body)


class _NotConnected(SbkcardError):
    """An HSM step called out of order (-12 未建立连接)."""


class _HsmNotNeeded(SbkcardError):
    """The file needs no key: use the PSAM function (-2204)."""


def _challenges(conn: Connection, key: KeySpec) -> str:
    """Step 1 of a keyed HSM operation: 算法标识|密钥地址|过程因子|原始信息| (S3 §2.2.2)."""
    original = conn.card.call(b.get_challenge(8), "GET CHALLENGE")
    factor = conn.card.call(b.get_challenge(8), "GET CHALLENGE")
    return fields(
        f"{conn.ctx.algorithm.value:02X}",
        hsm_address(key, 1),
        factor.hex().upper(),
        original.hex().upper(),
    )


def _external(conn: Connection, key: KeySpec, result: bytes) -> None:
    """EXTERNAL AUTHENTICATE with the HSM's ``auth(8) ‖ original(8)``."""
    conn.select(key.df)
    conn.present_authentication(key, result[:8], result[8:])


def _settlement(done: purse.PurchaseResult, conn: Connection) -> str:
    """iDoDebit's output (S3 §8.1.2): what settles the purchase by its TAC (App. C.7)."""
    return fields(
        f"{conn.ctx.algorithm.value:02X}",
        hsm_address(card_key("DTK"), done.key_version),
        done.amounts_hex,
        chr(done.tx_type),
        done.terminal_number,
        f"{done.terminal_seq:08X}",
        done.time.strftime("%Y%m%d%H%M%S"),
        done.tac.hex().upper(),
    )


def _pay_info(text: str) -> tuple[int, int, dt.datetime]:
    total, paid, when = split_fields(text, 3, "pPayInfo")
    return parse_amount(total, "总金额"), parse_amount(paid, "账户+统筹金额"), parse_time(when)


__all__ = [
    "NationalInterface",
    "Result",
    "basic_string",
    "fields",
    "parse_card_info",
    "split_fields",
    "yuan",
]
