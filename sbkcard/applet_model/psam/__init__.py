"""The PSAM, the terminal's secure access module (Part 9).

- :mod:`.layout`: the file system as data (DES and SM4/SSF33 environments, their files,
  where each lives in storage) and :func:`is_secret` for card images;
- :mod:`.key_records`: key records, the usage byte, key types, the algorithm byte and the
  key-ID allocation table;
- :mod:`.files`: typed contents of files 0015, 0016, 0019 and 001A–001C;
- :mod:`.applet`: :class:`Psam`, the commands of Part 9 §9;
- :mod:`.content`: :func:`psam_content`, a personalised PSAM's storage from a key set.
"""

from sbkcard.applet_model.psam.applet import Psam
from sbkcard.applet_model.psam.content import (
    AdminKeys,
    card_key_records,
    demo_admin_keys,
    psam_atr,
    psam_content,
)
from sbkcard.applet_model.psam.errors import PsamError
from sbkcard.applet_model.psam.files import ApplicationInfo, PublicInfo, TerminalInfo
from sbkcard.applet_model.psam.key_records import (
    KEY_ID_ALLOCATION,
    Authority,
    KeyAlgorithm,
    KeyRecord,
    KeyType,
)
from sbkcard.applet_model.psam.layout import (
    DES_ENVIRONMENT,
    ENVIRONMENTS,
    SM4_ENVIRONMENT,
    Environment,
    is_secret,
)

__all__ = [
    "DES_ENVIRONMENT",
    "ENVIRONMENTS",
    "KEY_ID_ALLOCATION",
    "SM4_ENVIRONMENT",
    "AdminKeys",
    "ApplicationInfo",
    "Authority",
    "Environment",
    "KeyAlgorithm",
    "KeyRecord",
    "KeyType",
    "Psam",
    "PsamError",
    "PublicInfo",
    "TerminalInfo",
    "card_key_records",
    "demo_admin_keys",
    "is_secret",
    "psam_atr",
    "psam_content",
]
