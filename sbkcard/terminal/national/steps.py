"""The HSM two- and three-step functions as a state machine (S3 §1.2–§8.3).

Between two steps of an ``*_HSM_Step*`` function the card stays powered and the
interface remembers one pending state: a frozen value that says which step may come
next and carries what that step needs.  :data:`TRANSITIONS` is the whole order of the
steps: a step that names no next step ends its function; any other call abandons what
is pending (the card is powered down) and answers ``-12`` (未建立连接).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sbkcard.keys.hierarchy import KeySpec

__all__ = [
    "TRANSITIONS",
    "AwaitBasicInfo",
    "AwaitDebit",
    "AwaitKeyedFile",
    "AwaitPinCommand",
    "AwaitPinMac",
    "Waiting",
]


@dataclass(frozen=True)
class AwaitBasicInfo:
    """iReadCardBas_HSM_Step1 done: the card's IRK answer, its original data, whether a
    3.0 card also waits for RKSSSE's external authentication (S3 §1.3)."""

    answer: bytes
    original: bytes
    external: bool


@dataclass(frozen=True)
class AwaitKeyedFile:
    """iReadCard/iWriteCard_HSM_Step1 done: the first file's key and address (S3 §2.3, §3.3)."""

    key: KeySpec
    address: str


@dataclass(frozen=True)
class AwaitPinCommand:
    """iReloadPIN/iUnblockPIN_HSM_Step1 done: the PUK the HSM's answer authenticates."""

    key: KeySpec


@dataclass(frozen=True)
class AwaitPinMac:
    """Step 2 done: the command header the HSM's command must start with (S3 §6.4, §7.4)."""

    header: bytes


@dataclass(frozen=True)
class AwaitDebit:
    """iDoDebit_HSM_Step1 done: what step 2's output repeats (S3 §8.3)."""

    amounts: str
    terminal: bytes
    version: int


Waiting = AwaitBasicInfo | AwaitKeyedFile | AwaitPinCommand | AwaitPinMac | AwaitDebit
"""A pending state."""

TRANSITIONS: Mapping[str, tuple[str, type[Waiting]]] = MappingProxyType(
    {
        "iReadCardBas_HSM_Step1": ("iReadCardBas_HSM_Step2", AwaitBasicInfo),
        "iReadCard_HSM_Step1": ("iReadCard_HSM_Step2", AwaitKeyedFile),
        "iWriteCard_HSM_Step1": ("iWriteCard_HSM_Step2", AwaitKeyedFile),
        "iReloadPIN_HSM_Step1": ("iReloadPIN_HSM_Step2", AwaitPinCommand),
        "iReloadPIN_HSM_Step2": ("iReloadPIN_HSM_Step3", AwaitPinMac),
        "iUnblockPIN_HSM_Step1": ("iUnblockPIN_HSM_Step2", AwaitPinCommand),
        "iUnblockPIN_HSM_Step2": ("iUnblockPIN_HSM_Step3", AwaitPinMac),
        "iDoDebit_HSM_Step1": ("iDoDebit_HSM_Step2", AwaitDebit),
    }
)
"""Step → (the step that may follow, the state it leaves); absent: the function's last."""
