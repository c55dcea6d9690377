"""Terminals: transports, operations, PSAM/HSM authentication, the national reader interface.

The names a counter program needs, importable from here (guide:
``docs/guide/60-terminal.rst``; documented in their own modules):

* :class:`Terminal` — a reader with the card slot, the PSAM slot or a key service, the
  hotlist and the PIN pad; :meth:`Terminal.session` is one transaction;
* the operations: :func:`read_basic_info`, :func:`check_authenticity`,
  :func:`external_authenticate`, :mod:`.operations.files` (read/write by file address),
  :mod:`.operations.pin`, :mod:`.operations.purse`, and the third-generation card's
  certificate application :mod:`.operations.pki` (its user PIN at the counter:
  :mod:`.operations.cert_pin`);
* :class:`NationalInterface` — ``iReadCardBas`` and the other functions of the national
  reader interface; :class:`HsmHost` and :class:`SoftwareKeyService` — HSM mode;
* :class:`ReaderApi` — ``ICC_Reader_Open`` and the other functions of the reader API
  under it (Part 8 App. A);
* :class:`Hotlist` — loss reporting (挂失, 解挂, 补卡); :class:`CardPolicy` — the cards a
  terminal accepts (Part 7 §5.4) and whether it blocks a hotlisted one;
* :func:`block_application` and :func:`block_card` — application maintenance (Part 7 §13);
* :class:`Transport` — what a reader slot must offer (the PC/SC one is
  :class:`sbkcard.terminal.transports.pcsc.PcscTransport`, imported on its own: it needs pyscard).

The names are loaded when first used, so importing one module of a subpackage does not
load the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbkcard.terminal.hotlist import Hotlist as Hotlist
    from sbkcard.terminal.national.interface import NationalInterface as NationalInterface
    from sbkcard.terminal.operations.auth import check_authenticity as check_authenticity
    from sbkcard.terminal.operations.auth import external_authenticate as external_authenticate
    from sbkcard.terminal.operations.basic import BasicInfo as BasicInfo
    from sbkcard.terminal.operations.basic import read_basic_info as read_basic_info
    from sbkcard.terminal.operations.maintenance import block_application as block_application
    from sbkcard.terminal.operations.maintenance import block_card as block_card
    from sbkcard.terminal.operations.pinpad import CallbackPinPad as CallbackPinPad
    from sbkcard.terminal.operations.pinpad import ConsolePinPad as ConsolePinPad
    from sbkcard.terminal.policy import CardPolicy as CardPolicy
    from sbkcard.terminal.security.hsm import HsmModule as HsmModule
    from sbkcard.terminal.security.hsm import KeyService as KeyService
    from sbkcard.terminal.security.hsm import SoftwareKeyService as SoftwareKeyService
    from sbkcard.terminal.security.hsm_host import CardFacts as CardFacts
    from sbkcard.terminal.security.hsm_host import HsmHost as HsmHost
    from sbkcard.terminal.terminal import Terminal as Terminal
    from sbkcard.terminal.transports.reader_api import ReaderApi as ReaderApi
    from sbkcard.terminal.transports.transport import Trace as Trace
    from sbkcard.terminal.transports.transport import Transport as Transport

_HOMES = {
    "Hotlist": "sbkcard.terminal.hotlist",
    "NationalInterface": "sbkcard.terminal.national.interface",
    "check_authenticity": "sbkcard.terminal.operations.auth",
    "external_authenticate": "sbkcard.terminal.operations.auth",
    "BasicInfo": "sbkcard.terminal.operations.basic",
    "read_basic_info": "sbkcard.terminal.operations.basic",
    "block_application": "sbkcard.terminal.operations.maintenance",
    "block_card": "sbkcard.terminal.operations.maintenance",
    "CallbackPinPad": "sbkcard.terminal.operations.pinpad",
    "ConsolePinPad": "sbkcard.terminal.operations.pinpad",
    "CardPolicy": "sbkcard.terminal.policy",
    "HsmModule": "sbkcard.terminal.security.hsm",
    "KeyService": "sbkcard.terminal.security.hsm",
    "SoftwareKeyService": "sbkcard.terminal.security.hsm",
    "CardFacts": "sbkcard.terminal.security.hsm_host",
    "HsmHost": "sbkcard.terminal.security.hsm_host",
    "Terminal": "sbkcard.terminal.terminal",
    "ReaderApi": "sbkcard.terminal.transports.reader_api",
    "Trace": "sbkcard.terminal.transports.transport",
    "Transport": "sbkcard.terminal.transports.transport",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import a public name's home module on first use (PEP 562)."""
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
