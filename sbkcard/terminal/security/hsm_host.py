"""The HSM side of the national interface's two-step functions (S3 App. C).

In HSM mode the business system takes each ``*_HSM_Step1`` output to the card holder
database (持卡库), whose HSM computes the answer the next step needs.  :class:`HsmHost`
is that service over a :class:`~sbkcard.terminal.security.hsm.KeyService`, answering from the
strings alone, as the real service does:

* :meth:`~HsmHost.read_card_bas` — iReadCardBas_HSM_Step1's output → Step2's pKey
  (``内部认证结果+原始|外部认证结果+原始|``);
* :meth:`~HsmHost.authenticate` — the ``算法标识|密钥地址|过程因子|原始信息|`` of the
  read/write/PIN steps → the 32-hex pKey;
* :meth:`~HsmHost.secure_message` — iReloadPIN/iUnblockPIN_HSM_Step2's output → Step3's
  pKey (command header ‖ [enciphered PIN] ‖ MAC);
* :meth:`~HsmHost.debit` — iDoDebit_HSM_Step1's output → Step2's pKey
  (``终端交易序号|交易时间|MAC1|``), with the terminal sequence the host keeps;
* :meth:`~HsmHost.check_mac2` — iDoDebit_HSM_Step1's and Step2's outputs → whether the
  card's MAC2 is right (S3 §8.3.2; the PSAM's check of S3 §8.1.3 step 7, Part 7 §12.7);
* :meth:`~HsmHost.check_tac` — an iDoDebit output → whether its TAC is right (App. C.7).

Key diversification needs the card's region and ATR history, which the business system
cached from the basic information (S3 App. C note 2): give it as a :class:`CardFacts`
(built with :meth:`CardFacts.from_basic` from an iReadCardBas string).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from construct import Construct

from sbkcard.apdu import bodies
from sbkcard.keys.ciphers import Algorithm
from sbkcard.keys.hierarchy import card_key
from sbkcard.terminal.errors import InvalidInputError, KeyServiceError
from sbkcard.terminal.national.interface import parse_hex, split_fields
from sbkcard.terminal.operations.pinpad import Pin
from sbkcard.terminal.security.base import CardContext, hsm_address
from sbkcard.terminal.security.hsm import KeyService

_IRK = hsm_address(card_key("IRK"), 1)
_RKSSSE = hsm_address(card_key("RKSSSE"), 1)


def _amounts(amounts: str) -> bytes:
    """MAC2's input (Part 7 §12.6) from 交易金额: account payment 0 ‖ the two amounts (S3 §8.2)."""
    return bytes(4) + parse_hex(amounts, "交易金额", 8)


def _session_input(random: str, seq: str, terminal_seq: int) -> bytes:
    """SESPK's input (Part 7 §12.3) from Step1's random and sequence and the terminal's."""
    return bodies.build(
        bodies.PURCHASE_SESSION_INPUT,
        random=parse_hex(random, "伪随机数", 4),
        seq=int.from_bytes(parse_hex(seq, "交易序号", 2)),
        terminal_seq=terminal_seq.to_bytes(4)[-2:],
    )


def _purchase_input(
    body: Construct, amounts: str, kind: str, terminal: str, when: str, **more: int
) -> bytes:
    """MAC1's or the TAC's input from the national strings (account payment 0, S3 §8.2)."""
    paid = bodies.parse(bodies.PURCHASE_AMOUNTS, _amounts(amounts))
    if len(kind) != 1 or not kind.isascii():
        raise InvalidInputError(f"交易类型: {kind!r} is not one an 1 code")
    try:
        return bodies.build(
            body,
            **{**paid, **more},
            kind=ord(kind),
            terminal=parse_hex(terminal, "终端机编号", 6),
            time=when,
        )
    except bodies.BodyError as exc:
        raise InvalidInputError(f"交易时间: {exc}") from None


@dataclass(frozen=True)
class CardFacts:
    """What the 持卡库 knows of a card from its basic information."""

    card_id: str
    history: bytes
    card_number: str = ""
    version: str = ""

    @classmethod
    def from_basic(cls, basic: str) -> CardFacts:
        """From iReadCardBas's output (S3 §1.1.2)."""
        parts = split_fields(basic, 11, "basic information")
        return cls(parts[3], parse_hex(parts[5], "卡复位信息"), parts[2], parts[6])

    def context(self, algorithm: Algorithm) -> CardContext:
        """The card context the key service needs (an ATR rebuilt from its history)."""
        atr = bytes([0x3B, 0x60 | len(self.history), 0x00, 0x00]) + self.history
        return CardContext(
            atr, parse_hex(self.card_id, "卡识别码"), self.card_number, self.version, algorithm
        )


class HsmHost:
    """The card holder database's HSM service (see the module docstring)."""

    def __init__(self, service: KeyService, *, terminal_seq: int = 1) -> None:
        self.service = service
        self.terminal_seq = terminal_seq

    def _algorithm(self, code: str) -> Algorithm:
        try:
            algorithm = Algorithm(int(code, 16))
        except ValueError:
            raise InvalidInputError(f"unknown algorithm identifier {code!r}") from None
        if algorithm not in self.service.algorithms:
            raise KeyServiceError(f"the HSM holds no {algorithm.label} keys")
        return algorithm

    def read_card_bas(self, step1: str) -> str:
        """iReadCardBas_HSM_Step1's output → Step2's pKey."""
        region, history, alg, card_id, ia_f, ia_o, ea_f, ea_o = split_fields(
            step1, 8, "Step1 output"
        )
        algorithm = self._algorithm(alg)
        ctx = CardFacts(card_id, parse_hex(history, "复位信息")).context(algorithm)
        if ctx.region != region:
            raise InvalidInputError(f"区号 {region} is not the card's region {ctx.region}")
        internal = self._auth(ctx, _IRK, ia_f, ia_o)
        external = self._auth(ctx, _RKSSSE, ea_f, ea_o) if ea_f else ""
        return f"{internal}|{external}|"

    def _auth(self, ctx: CardContext, address: str, factor: str, original: str) -> str:
        raw = parse_hex(original, "原始")
        data = self.service.auth_data(ctx, address, parse_hex(factor, "因子"), raw)
        return (data + raw).hex().upper()

    def authenticate(self, step1: str, card: CardFacts) -> str:
        """``算法标识|密钥地址|过程因子|原始信息|`` → the 32-hex pKey of the next step."""
        alg, address, factor, original = split_fields(step1, 4, "Step1 output")
        return self._auth(card.context(self._algorithm(alg)), address, factor, original)

    def secure_message(self, step2: str, card: CardFacts) -> str:
        """``算法|密钥地址|因子|命令头|明文|`` → header ‖ [enciphered PIN] ‖ MAC (hex)."""
        alg, address, challenge, header, plain = split_fields(step2, 5, "Step2 output")
        ctx = card.context(self._algorithm(alg))
        head = parse_hex(header, "命令头")
        plaintext = Pin(plain).encode() if plain else None
        data = self.service.secure_message(
            ctx, address, parse_hex(challenge, "因子"), head, plaintext
        )
        return (head + data).hex().upper()

    def debit(self, step1: str, card: CardFacts) -> str:
        """iDoDebit_HSM_Step1's output → ``终端交易序号|交易时间|MAC1|``."""
        alg, address, random, seq, amounts, kind, terminal, when = split_fields(
            step1, 8, "Step1 output"
        )
        ctx = card.context(self._algorithm(alg))
        tseq = self.terminal_seq
        self.terminal_seq += 1
        data = _purchase_input(bodies.PURCHASE_MAC1_INPUT, amounts, kind, terminal, when)
        mac1 = self.service.session_mac(ctx, address, _session_input(random, seq, tseq), data)
        return f"{tseq:08X}|{when}|{mac1.hex().upper()}|"

    def check_mac2(self, step1: str, step2: str, card: CardFacts) -> bool:
        """Is iDoDebit_HSM_Step2's MAC2 the card's for Step1's purchase (S3 §8.3.2)?

        MAC2 is the MAC under SESPK (DPK at Step1's address; Step1's random and purchase
        sequence, Step2's terminal sequence) of the three amounts (Part 7 §12.6).  The
        two outputs must be of one purchase: the fields both carry must agree.
        """
        alg, address, random, seq, *same = split_fields(step1, 8, "Step1 output")
        mac2, alg2, _dtk, amounts, kind, terminal, tseq, when, _tac = split_fields(
            step2, 9, "Step2 output"
        )
        names = ("算法标识", "交易金额", "交易类型", "终端机编号", "交易时间")
        for name, first, second in zip(
            names, [alg, *same], (alg2, amounts, kind, terminal, when), strict=True
        ):
            if first.upper() != second.upper():
                raise InvalidInputError(
                    f"Step2 output: {name} {second} is not Step1's {first} (not one purchase)"
                )
        ctx = card.context(self._algorithm(alg))
        session_input = _session_input(
            random, seq, int.from_bytes(parse_hex(tseq, "终端交易序号", 4))
        )
        expected = self.service.session_mac(ctx, address, session_input, _amounts(amounts))
        return hmac.compare_digest(expected, parse_hex(mac2, "MAC2", 4))

    def check_tac(self, output: str, card: CardFacts, *, mac2_first: bool = False) -> bool:
        """The settlement check of S3 App. C.7: is an iDoDebit output's TAC right?"""
        parts = split_fields(output, 9 if mac2_first else 8, "iDoDebit output")
        alg, address, amounts, kind, terminal, tseq, when, tac = parts[-8:]
        ctx = card.context(self._algorithm(alg))
        data = _purchase_input(
            bodies.PURCHASE_TAC_INPUT,
            amounts,
            kind,
            terminal,
            when,
            terminal_seq=int.from_bytes(parse_hex(tseq, "终端交易序号", 4)),
        )
        return hmac.compare_digest(self.service.tac(ctx, address, data), parse_hex(tac, "TAC"))
