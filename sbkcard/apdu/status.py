"""Status words (Part 5 §5.4 table 5, ISO/IEC 7816-4 §5.6).

:class:`SW` names every fixed status word the national card and PSAM use.  The
parametrised families ``61xx`` (more data), ``63Cx`` (tries left) and ``6Cxx`` (wrong
Le) are built by :func:`more_data`, :func:`tries_left` and :func:`wrong_le`, and read
back by :func:`parse_more_data`, :func:`parse_tries_left` and :func:`parse_wrong_le`.

:func:`describe` gives the meaning of any status word, in Chinese (the standard's own
wording where it has one) and English, with its kind (success, warning, error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from types import MappingProxyType


class SW(IntEnum):
    """Fixed status words of the standard (Part 5 table 5) and ISO 7816-4."""

    OK = 0x9000
    WARNING_NV_UNCHANGED = 0x6200
    WARNING_NV_CHANGED = 0x6300
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    INVALID_STATE = 0x6901
    INCOMPATIBLE_FILE = 0x6981
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_BLOCKED = 0x6983
    REF_DATA_INVALID = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    SM_MISSING = 0x6987
    SM_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NO_SPACE = 0x6A84
    LC_TLV_INCONSISTENT = 0x6A85
    WRONG_P1P2 = 0x6A86
    REF_NOT_FOUND = 0x6A88
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00
    MAC_INVALID = 0x9302
    APP_BLOCKED = 0x9303
    INSUFFICIENT_FUNDS = 0x9401
    COUNTER_MAX = 0x9402
    KEY_INDEX_NOT_SUPPORTED = 0x9403
    MAC_NOT_AVAILABLE = 0x9406
    PSAM_MAC2_INVALID = 0x63CF


def more_data(available: int) -> int:
    """``61xx``: ``available`` bytes wait for GET RESPONSE (``00`` means 256)."""
    return 0x6100 | (available & 0xFF)


def tries_left(count: int) -> int:
    """``63Cx``: verification failed, ``count`` (0–15) tries left."""
    if not 0 <= count <= 0x0F:
        raise ValueError(f"tries left must be 0..15, got {count}")
    return 0x63C0 | count


def wrong_le(actual: int) -> int:
    """``6Cxx``: wrong Le; resend with Le = ``actual`` (``00`` means 256)."""
    return 0x6C00 | (actual & 0xFF)


def parse_more_data(sw: int) -> int | None:
    """The byte count announced by a ``61xx`` status word (1–256), else ``None``."""
    if sw >> 8 != 0x61:
        return None
    return (sw & 0xFF) or 256


def parse_tries_left(sw: int) -> int | None:
    """The tries left announced by a ``63Cx`` status word (0–15), else ``None``."""
    if sw & 0xFFF0 != 0x63C0:
        return None
    return sw & 0x0F


def parse_wrong_le(sw: int) -> int | None:
    """The exact length announced by a ``6Cxx`` status word (1–256), else ``None``."""
    if sw >> 8 != 0x6C:
        return None
    return (sw & 0xFF) or 256


class Kind(Enum):
    """The class of a status word (ISO 7816-4 §5.6: normal, warning, error)."""

    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """The meaning of one status word: Chinese, English and its kind."""

    sw: int
    zh: str
    en: str
    kind: Kind

    @property
    def hex(self) -> str:
        """The status word as four upper-case hex digits, e.g. ``"6A82"``."""
        return f"{self.sw:04X}"

    def __str__(self) -> str:
        return f"{self.hex} {self.en} ({self.zh})"


_S, _W, _E = Kind.SUCCESS, Kind.WARNING, Kind.ERROR

# Fixed status words.  The Chinese text is the standard's (Part 5 table 5, Part 9) where
# it defines the word, otherwise the usual rendering of ISO 7816-4.
_TABLE: tuple[tuple[int, Kind, str, str], ...] = (
    (0x9000, _S, "命令执行成功", "success"),
    # ISO 7816-4 warnings, non-volatile memory unchanged (62xx).
    (0x6200, _W, "警告：非易失性存储器状态未改变", "warning, non-volatile memory unchanged"),
    (0x6281, _W, "部分回送数据可能已损坏", "part of the returned data may be corrupted"),
    (
        0x6282,
        _W,
        "读到 Le 字节前已到达文件/记录末尾",
        "end of file or record before Le bytes",
    ),
    (0x6283, _W, "选择的文件已失效", "selected file deactivated"),
    (0x6284, _W, "文件控制信息格式不符", "file control information not formatted per ISO"),
    (0x6285, _W, "选择的文件处于终止状态", "selected file in termination state"),
    # Warnings, non-volatile memory changed (63xx).
    (0x6300, _W, "警告：非易失性存储器状态已改变", "warning, non-volatile memory changed"),
    (0x6381, _W, "最后一次写入已将文件写满", "file filled up by the last write"),
    # Execution errors.
    (0x6400, _E, "执行出错，非易失性存储器状态未改变", "execution error, memory unchanged"),
    (0x6500, _E, "执行出错，非易失性存储器状态已改变", "execution error, memory changed"),
    (0x6581, _E, "内存错误", "memory failure"),
    (0x6600, _E, "与安全相关的错误", "security-related error"),
    # Checking errors (Part 5 table 5 and ISO 7816-4).
    (0x6700, _E, "Lc 错", "wrong length (Lc)"),
    (0x6800, _E, "CLA 中的功能不支持", "functions in CLA not supported"),
    (0x6881, _E, "不支持逻辑通道", "logical channel not supported"),
    (0x6882, _E, "不支持安全报文", "secure messaging not supported"),
    (0x6883, _E, "应为命令链的最后一条命令", "last command of the chain expected"),
    (0x6884, _E, "不支持命令链", "command chaining not supported"),
    (0x6900, _E, "命令不允许", "command not allowed"),
    (0x6901, _E, "命令不接受（无效状态）", "command not accepted (invalid state)"),
    (0x6981, _E, "命令与文件结构不相容", "command incompatible with file structure"),
    (0x6982, _E, "不满足安全状态", "security status not satisfied"),
    (0x6983, _E, "验证方法锁定", "authentication method blocked"),
    (0x6984, _E, "引用数据无效", "reference data invalid"),
    (0x6985, _E, "使用条件不满足", "conditions of use not satisfied"),
    (0x6986, _E, "不满足命令执行的条件（无当前基本文件）", "command not allowed (no current EF)"),
    (0x6987, _E, "安全报文数据项丢失（MAC 缺失）", "secure messaging data objects missing"),
    (0x6988, _E, "安全报文数据项不正确", "secure messaging data objects incorrect"),
    (0x6A00, _E, "P1、P2 参数错", "wrong parameters P1-P2"),
    (0x6A80, _E, "数据域参数不正确", "incorrect parameters in the data field"),
    (0x6A81, _E, "功能不支持", "function not supported"),
    (0x6A82, _E, "未找到文件", "file not found"),
    (0x6A83, _E, "未找到记录", "record not found"),
    (0x6A84, _E, "文件空间不足", "not enough memory space in the file"),
    (0x6A85, _E, "Lc 与 TLV 结构不一致", "Lc inconsistent with the TLV structure"),
    (0x6A86, _E, "P1、P2 错", "incorrect parameters P1-P2"),
    (0x6A87, _E, "Lc 与 P1、P2 不一致", "Lc inconsistent with P1-P2"),
    (0x6A88, _E, "未找到引用数据", "referenced data (key) not found"),
    (0x6A89, _E, "文件已存在", "file already exists"),
    (0x6A8A, _E, "DF 名称已存在", "DF name already exists"),
    (0x6B00, _E, "参数错误（偏移地址超出了 EF）", "wrong parameters (offset outside the EF)"),
    (0x6D00, _E, "命令不存在", "instruction not supported"),
    (0x6E00, _E, "CLA 错", "class not supported"),
    (0x6F00, _E, "数据无效", "data invalid (no precise diagnosis)"),
    # Proprietary status words of the standard (Part 5 table 5).
    (0x9302, _E, "MAC 无效", "MAC invalid"),
    (0x9303, _E, "应用被永久锁定", "application permanently blocked"),
    (0x9401, _E, "金额不足", "insufficient funds"),
    (0x9402, _E, "交易计数器达到最大值", "transaction counter at maximum"),
    (0x9403, _E, "密钥索引不支持", "key index not supported"),
    (0x9406, _E, "所需 MAC 不可用", "MAC not available"),
)

STATUS_TABLE: Mapping[int, StatusInfo] = MappingProxyType(
    {sw: StatusInfo(sw, zh, en, kind) for sw, kind, zh, en in _TABLE}
)
"""Every fixed status word of Part 5 table 5 and ISO 7816-4 with its meaning."""

# Meanings a command gives to a word outside its usual sense (INS → SW → info).
_BY_INS: Mapping[int, Mapping[int, StatusInfo]] = MappingProxyType(
    {
        # CREDIT SAM FOR PURCHASE (Part 9 §9.9): 63CF means MAC2 failed, not "15 tries".
        0x72: {0x63CF: StatusInfo(0x63CF, "MAC2 校验失败", "MAC2 verification failed", _E)},
    }
)


def describe(sw: int, ins: int | None = None) -> StatusInfo:
    """The meaning of ``sw`` (Part 5 table 5, ISO 7816-4 §5.6).

    Covers the fixed words, the families ``61xx``, ``63Cx``, ``6Cxx``, and falls back on
    the ISO class of ``SW1`` for anything else.  ``ins`` selects a command's own meaning
    where one exists (``63CF`` answering CREDIT SAM FOR PURCHASE ``80 72``).
    """
    if not 0 <= sw <= 0xFFFF:
        raise ValueError(f"a status word is two bytes, got {sw:#x}")
    if ins is not None and sw in _BY_INS.get(ins, {}):
        return _BY_INS[ins][sw]
    known = STATUS_TABLE.get(sw)
    if known is not None:
        return known
    if (n := parse_more_data(sw)) is not None:
        return StatusInfo(
            sw, f"正常处理，还有 {n} 字节可用 GET RESPONSE 取回", f"{n} more bytes available", _S
        )
    if (x := parse_tries_left(sw)) is not None:
        return StatusInfo(
            sw, f"鉴别失败，还可尝试 {x} 次", f"verification failed, {x} tries left", _W
        )
    if (n := parse_wrong_le(sw)) is not None:
        return StatusInfo(sw, f"Le 错，实际长度 {n}", f"wrong Le, exact length is {n}", _E)
    return _unknown(sw)


def _unknown(sw: int) -> StatusInfo:
    sw1 = sw >> 8
    if sw1 == 0x62:
        return StatusInfo(sw, "警告（状态未改变）", "warning, memory unchanged", _W)
    if sw1 == 0x63:
        return StatusInfo(sw, "警告（状态已改变）", "warning, memory changed", _W)
    if 0x64 <= sw1 <= 0x6F:
        return StatusInfo(sw, "未定义的错误状态", "unknown error", _E)
    if 0x90 <= sw1 <= 0x9F:
        return StatusInfo(sw, "未定义的专有状态", "unknown proprietary status", _E)
    return StatusInfo(sw, "无效的状态字", "not a valid status word", _E)


def kind(sw: int) -> Kind:
    """The kind of ``sw``: success, warning or error (see :func:`describe`)."""
    return describe(sw).kind
