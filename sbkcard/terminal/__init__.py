"""Terminals: transports, operations, PSAM/HSM authentication, the national reader interface.

The names a counter program needs, importable from here (guide:
``docs/guide/60-terminal.rst``; documented in their own modules):

* :class:`Terminal` — a reader with the card slot, the PSAM slot or a key service, the
  hotlist and the PIN pad; :meth:`Terminal.session` is one transaction;
* the operations: :func:`read_basic_info`, :func:`check_authenticity`,
  :func:`external_authenticate`, :mod:`.files` (read/write by file address), :mod:`.pin`,
  :mod:`.purse`;
* :class:`NationalInterface` — ``iReadCardBas`` and the other functions of the national
  reader interface; :class:`HsmHost` and :class:`SoftwareKeyService` — HSM mode;
* :class:`ReaderApi` — ``ICC_Reader_Open`` and the other functions of the reader API
  under it (Part 8 App. A);
* :class:`Hotlist` — loss reporting (挂失, 解挂, 补卡); :class:`CardPolicy` — the cards a
  terminal accepts (Part 7 §5.4) and whether it blocks a hotlisted one;
* :func:`block_application` and :func:`block_card` — application maintenance (Part 7 §13);
* :class:`Transport` — what a reader slot must offer (the PC/SC one is
  :class:`sbkcard.terminal.pcsc.PcscTransport`, imported on its own: it needs pyscard).
"""

from sbkcard.terminal.auth import check_authenticity as check_authenticity
from sbkcard.terminal.auth import external_authenticate as external_authenticate
from sbkcard.terminal.basic import BasicInfo as BasicInfo
from sbkcard.terminal.basic import read_basic_info as read_basic_info
from sbkcard.terminal.hotlist import Hotlist as Hotlist
from sbkcard.terminal.hsm import HsmModule as HsmModule
from sbkcard.terminal.hsm import KeyService as KeyService
from sbkcard.terminal.hsm import SoftwareKeyService as SoftwareKeyService
from sbkcard.terminal.hsm_host import CardFacts as CardFacts
from sbkcard.terminal.hsm_host import HsmHost as HsmHost
from sbkcard.terminal.maintenance import block_application as block_application
from sbkcard.terminal.maintenance import block_card as block_card
from sbkcard.terminal.national import NationalInterface as NationalInterface
from sbkcard.terminal.policy import CardPolicy as CardPolicy
from sbkcard.terminal.reader_api import ReaderApi as ReaderApi
from sbkcard.terminal.terminal import Terminal as Terminal
from sbkcard.terminal.transport import Trace as Trace
from sbkcard.terminal.transport import Transport as Transport
