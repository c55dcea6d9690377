"""The error codes of the national reader interface, declared once (S3 App. A).

:class:`Code` lists the fixed negative codes with their texts as the standard prints
them; a card's status word comes back as ``-(SW1·256+SW2)`` (:func:`sw_code`).
:func:`code_for` maps every exception of :mod:`sbkcard.terminal.errors` (and the
transport errors of :mod:`sbkcard.errors`) to the code and the text the interface
returns in ``pOutInfo``.

Some mappings are this project's choice, because App. A has no code for them; each
carries its own message text:

* a card on the hotlist answers ``-21`` (内部认证失败（用户卡不合法）: the card is not a
  legitimate card for this terminal, Part 7 §5.4);
* a card outside its validity period — expired (卡片已过期) or not yet valid (卡片尚未
  生效) — answers ``-21`` too: it fails the same IC 卡有效性检查 of Part 7 §5.4
  (step 1.4), and App. A has no code for dates;
* a card whose initialising organisation, card type or specification version the
  terminal does not support (the other checks of §5.4) answers ``-1`` (卡类型不对);
* a hotlist database that cannot be read answers ``-5`` (a resource of the interface
  failed to load).

A blocked application keeps the card's status word: ``9303`` is ``-37635``
(应用已被永久锁定), a blocked card's ``6A81`` ``-27265``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from sbkcard.apdu.status import describe
from sbkcard.errors import CardRemovedError, NoCardError, SbkcardError, TransportError
from sbkcard.terminal import errors as e


class Code(IntEnum):
    """The fixed return codes of S3 App. A table A.1 (0 = success)."""

    OK = 0
    WRONG_CARD_TYPE = -1
    NO_CARD = -2
    NOT_POWERED = -3
    NO_RESPONSE = -4
    LIBRARY_LOAD = -5
    READER_CONNECT = -11
    NOT_CONNECTED = -12
    UNSUPPORTED_COMMAND = -13
    BAD_PARAMETER = -14
    CHECKSUM = -15
    CARD_ID_FORMAT = -20
    INTERNAL_AUTH_FAILED = -21
    DATA_MISMATCH = -22
    ILLEGAL_DATA = -23
    PSAM_LEVEL_TOO_LOW = -24
    PIN_CANCELLED = -31
    PIN_TIMEOUT = -32
    PIN_LENGTH = -33
    PIN_MISMATCH = -34
    INITIAL_PIN_REFUSED = -35
    CANNOT_SET_INITIAL_PIN = -36
    ILLEGAL_CHARACTERS = -41
    BAD_DATA_LENGTH = -42
    PIN_WRONG = -51
    PIN_LOCKED = -52
    NO_PSAM = -2201
    PSAM_ALGORITHM = -2202
    PSAM_NO_RKSSSE = -2203
    HSM_NOT_NEEDED = -2204


TEXT: Final[dict[Code, str]] = {
    Code.OK: "",
    Code.WRONG_CARD_TYPE: "卡类型不对",
    Code.NO_CARD: "无卡",
    Code.NOT_POWERED: "有卡未上电",
    Code.NO_RESPONSE: "卡无应答",
    Code.LIBRARY_LOAD: "加载动态库错",
    Code.READER_CONNECT: "读卡器连接错",
    Code.NOT_CONNECTED: "未建立连接",
    Code.UNSUPPORTED_COMMAND: "（动态库）不支持该命令",
    Code.BAD_PARAMETER: "（发给动态库的）命令参数错",
    Code.CHECKSUM: "信息校验和出错",
    Code.CARD_ID_FORMAT: "卡识别码格式错",
    Code.INTERNAL_AUTH_FAILED: "内部认证失败（用户卡不合法）",
    Code.DATA_MISMATCH: "传入数据与卡内不符",
    Code.ILLEGAL_DATA: "传入数据不合法",
    Code.PSAM_LEVEL_TOO_LOW: "PSAM卡密钥级别不够",
    Code.PIN_CANCELLED: "用户取消密码输入",
    Code.PIN_TIMEOUT: "密码输入操作超时",
    Code.PIN_LENGTH: "输入密码长度错",
    Code.PIN_MISMATCH: "两次输入密码不一致",
    Code.INITIAL_PIN_REFUSED: "初始密码不能交易",
    Code.CANNOT_SET_INITIAL_PIN: "不能改为初始密码",
    Code.ILLEGAL_CHARACTERS: "运算数据含非法字符",
    Code.BAD_DATA_LENGTH: "运算数据长度错",
    Code.PIN_WRONG: "PIN校验失败，剩余次数{n}次",
    Code.PIN_LOCKED: "PIN锁定",
    Code.NO_PSAM: "无PSAM卡",
    Code.PSAM_ALGORITHM: "PSAM卡算法不支持（即PSAM卡内没有SSF33算法或SM4算法）",
    Code.PSAM_NO_RKSSSE: "PSAM卡内没有RKSSSE密钥（3.0卡读个人基本信息需要RKSSSE密钥外部认证）",
    Code.HSM_NOT_NEEDED: "不需要加密机认证",
}

#: The texts App. A gives for the card status words it lists (others: "未知错误").
SW_TEXT: Final[dict[int, str]] = {
    0x63C2: "外部认证失败，剩余可尝试次数2次",
    0x63C1: "外部认证失败，剩余可尝试次数1次",
    0x63C0: "外部认证失败，剩余可尝试次数0次",
    0x6700: "Lc/Le不正确",
    0x6901: "命令不接受（无效状态）",
    0x6981: "命令与文件结构不相符、当前文件非所需文件",
    0x6982: "不满足安全条件",
    0x6983: "密钥锁定（算法锁定）鉴别方法锁定",
    0x6984: "引用数据无效、随机数无效",
    0x6985: "不满足使用条件、应用被锁定、应用未选择、余额上溢",
    0x6988: "安全报文数据项不正确、MAC不正确",
    0x6A80: "数据域参数不正确",
    0x6A81: "不支持该功能、卡中无MF、卡被锁定、应用锁定",
    0x6A82: "未找到文件、文件标识相重、SFI不正确",
    0x6A83: "未找到记录",
    0x6A88: "未找到引用数据、未找到密钥",
    0x9302: "MAC无效",
    0x9303: "应用已被永久锁定、卡片锁定",
    0x9403: "PSAM卡不支持消费交易",
    0x9406: "所需MAC（或/和TAC）不可用",
}

#: The status words on which the business system falls back to the HSM functions (S3 §10.5).
HSM_FALLBACK: Final[frozenset[int]] = frozenset(
    {Code.NO_PSAM, Code.PSAM_ALGORITHM, Code.PSAM_NO_RKSSSE, -0x6A88, Code.PSAM_LEVEL_TOO_LOW}
)


def sw_code(sw: int) -> int:
    """The interface's code for a card status word: ``-(SW1·256+SW2)`` (S3 App. A)."""
    return -(sw & 0xFFFF)


def sw_text(sw: int) -> str:
    """App. A's text for a card status word, or 未知错误 for one it does not list."""
    return SW_TEXT.get(sw, "未知错误")


def unconfirmed_purchase(why: str, card_seq: str, settlement: str) -> str:
    """The text of a purchase the card made but whose MAC2 was not confirmed."""
    return (
        f"{why}：the card HAS DEBITED the purse (purchase sequence {card_seq}) but the "
        f"purchase is not confirmed; settle it by its TAC (S3 App. C.7): {settlement}"
    )


def code_for(exc: BaseException) -> tuple[int, str]:
    """The (code, pOutInfo text) the interface returns for ``exc`` (the code a plain int)."""
    code, text = _code_for(exc)
    return int(code), text


def _code_for(exc: BaseException) -> tuple[int, str]:
    detail = str(exc)
    match exc:
        case e.WrongPinError():
            return Code.PIN_WRONG, TEXT[Code.PIN_WRONG].format(n=exc.tries_left)
        case e.PinBlockedError():
            return Code.PIN_LOCKED, TEXT[Code.PIN_LOCKED]
        case e.UnconfirmedPurchaseError():
            why = f"{describe(exc.sw, ins=0x72).zh}（{exc.device} {exc.sw:04X}，{exc.command}）"
            return sw_code(exc.sw), unconfirmed_purchase(
                why, f"{exc.result.card_seq:04X}", exc.settlement
            )
        case e.CardStatusError():
            return sw_code(exc.sw), f"{sw_text(exc.sw)}（{exc.device} {exc.sw:04X}，{exc.command}）"
        case e.PinEntryCancelled():
            return _fixed(Code.PIN_CANCELLED)
        case e.PinEntryTimeout():
            return _fixed(Code.PIN_TIMEOUT)
        case e.PinLengthError():
            return _fixed(Code.PIN_LENGTH)
        case e.PinMismatchError():
            return _fixed(Code.PIN_MISMATCH)
        case e.NoPsamError():
            return _fixed(Code.NO_PSAM)
        case e.PsamAlgorithmError():
            return _fixed(Code.PSAM_ALGORITHM)
        case e.PsamKeyMissingError() if exc.key == "RKSSSE":
            return _fixed(Code.PSAM_NO_RKSSSE)
        case e.PsamKeyMissingError():
            return sw_code(0x6A88), f"{sw_text(0x6A88)}：{detail}"
        case e.PsamLevelError():
            return Code.PSAM_LEVEL_TOO_LOW, f"{TEXT[Code.PSAM_LEVEL_TOO_LOW]}：{detail}"
        case e.AuthenticityError():
            return Code.INTERNAL_AUTH_FAILED, f"{TEXT[Code.INTERNAL_AUTH_FAILED]}：{detail}"
        case e.HotlistedCardError():
            done = f"；{exc.action}" if exc.action else ""
            return Code.INTERNAL_AUTH_FAILED, f"卡片已列入黑名单（{exc.kind}：{exc.reason}）{done}"
        case e.CardExpiredError():
            return Code.INTERNAL_AUTH_FAILED, f"卡片已过期（卡有效期{exc.expiry}，今日{exc.today}）"
        case e.CardNotYetValidError():
            return (
                Code.INTERNAL_AUTH_FAILED,
                f"卡片尚未生效（发卡日期{exc.issue_date}，今日{exc.today}）",
            )
        case e.HotlistError():
            return Code.LIBRARY_LOAD, f"黑名单库不可用：{detail}"
        case e.CardMismatchError() | e.WriteNotDoneError():
            return Code.DATA_MISMATCH, f"{TEXT[Code.DATA_MISMATCH]}：{detail}"
        case e.InvalidInputError():
            return Code.BAD_PARAMETER, f"{TEXT[Code.BAD_PARAMETER]}：{detail}"
        case e.UnsupportedCardError():
            return Code.WRONG_CARD_TYPE, f"{TEXT[Code.WRONG_CARD_TYPE]}：{detail}"
        case CardRemovedError():
            return Code.NO_RESPONSE, f"{TEXT[Code.NO_RESPONSE]}：{detail}"
        case NoCardError():
            return _fixed(Code.NO_CARD)
        case TransportError():
            return Code.READER_CONNECT, f"{TEXT[Code.READER_CONNECT]}：{detail}"
        case e.KeyServiceError() | SbkcardError():
            return Code.ILLEGAL_DATA, f"{TEXT[Code.ILLEGAL_DATA]}：{detail}"
    raise exc


def _fixed(code: Code) -> tuple[int, str]:
    return code, TEXT[code]
