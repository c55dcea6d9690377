"""The PSAM's file system as data (Part 9 §5, figure 1).

Two algorithm environments, each a DDF with the same shape::

    MF 3F00  "sx1.sh.社会保障"            DES environment
    ├── 0001 DIR, 0015 public information, 0016 terminal information
    ├── DF01 (AID D1 56 00 00 05 90)      social security application (ADF)
    │   ├── 0019 terminal transaction sequence
    │   ├── 001A / 001B / 001C  national / provincial / city application information
    │   └── 0011 / 0012 / 0013  national / provincial / city key files
    └── DDF1 "sx2.sh.社会保障"            SSF33 (and SM4) environment, the same files

Both environments can be selected at any time (Part 9 §5).  The SSF33 environment is
where a PSAM keeps its 16-byte-block keys; the reader-interface spec (§1.1.3, §10.5)
looks there for SSF33 *or* SM4, so sbkcard calls it the SM4/SSF33 environment.

In :class:`~sbkcard.applet_model.storage.Storage` every DF is a key holding its name
(``"3F00"``, ``"3F00/DF01"``, ``"3F00/DDF1"``, ``"3F00/DDF1/DF01"``): a DF exists when
its key does.  A transparent EF is ``"<DF>/<FID>"``, DIR record *n* ``"<DDF>/0001/<nn>"``,
a key record ``"<ADF>/<key file>/<type>-<id>"`` (``"3F00/DF01/0011/07-08"``), the ADF
master key ``"<ADF>/MK"`` and the retry counter of authentication key *k*
``"<ADF>/tries/<kk>"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sbkcard.applet_model.psam.key_records import Authority, KeyAlgorithm
from sbkcard.keys import Algorithm

__all__ = [
    "ADF_AID",
    "ADF_FID",
    "DES_ENVIRONMENT",
    "DIR_FID",
    "ENVIRONMENTS",
    "FILES",
    "MF_FID",
    "SM4_ENVIRONMENT",
    "EfSpec",
    "Environment",
    "Structure",
    "environment_for",
    "file_spec",
    "is_secret",
]

MF_FID = 0x3F00
ADF_FID = 0xDF01
ADF_AID = bytes.fromhex("D15600000590")
"""The social security application of both environments (Part 9 §5)."""
DIR_FID = 0x0001


class Structure(Enum):
    """EF structures of the PSAM (Part 9 §5.1–5.10)."""

    TRANSPARENT = "transparent"
    RECORD = "linear variable-length records"
    KEY = "key file"


@dataclass(frozen=True)
class EfSpec:
    """One elementary file: FID, name, structure, size, where it lives, who may rewrite it.

    Every file is read (or, for key files, used) freely; ``write`` is the standard's
    rewrite condition.  The SFI of a file is its FID's low byte (all FIDs are ``00xx``
    with xx ≤ 1E), as READ BINARY with SFI addressing uses it.
    """

    fid: int
    name: str
    structure: Structure
    size: int | None
    in_adf: bool
    write: str
    authority: Authority | None = None

    @property
    def sfi(self) -> int:
        """Short file identifier (Part 5 §6.5: P1 = 100 SFI)."""
        return self.fid & 0x1F


def _info(authority: Authority, name: str) -> EfSpec:
    return EfSpec(
        authority.info_file,
        name,
        Structure.TRANSPARENT,
        10,
        True,
        f"KID-0{authority.auth_kid}",
        authority,
    )


def _keys(authority: Authority, name: str) -> EfSpec:
    return EfSpec(
        authority.key_file, name, Structure.KEY, None, True, f"KID-0{authority.auth_kid}", authority
    )


FILES: tuple[EfSpec, ...] = (
    EfSpec(DIR_FID, "DIR 目录数据文件", Structure.RECORD, None, False, "DDF-MK"),
    EfSpec(
        0x0015, "卡片公共信息文件 public information", Structure.TRANSPARENT, 15, False, "DDF-MK"
    ),
    EfSpec(0x0016, "终端信息文件 terminal information", Structure.TRANSPARENT, 6, False, "DDF-MK"),
    EfSpec(
        0x0019, "终端交易序号文件 terminal sequence", Structure.TRANSPARENT, 4, True, "不允许 never"
    ),
    _info(Authority.NATIONAL, "国家级应用信息文件 national application information"),
    _info(Authority.PROVINCIAL, "省级应用信息文件 provincial application information"),
    _info(Authority.CITY, "地市级应用信息文件 city application information"),
    _keys(Authority.NATIONAL, "国家级密钥文件 national key file"),
    _keys(Authority.PROVINCIAL, "省级密钥文件 provincial key file"),
    _keys(Authority.CITY, "地市级密钥文件 city key file"),
)
"""Part 9 tables 1–10, in the order of the standard."""

_BY_FID = {spec.fid: spec for spec in FILES}


def file_spec(fid: int) -> EfSpec | None:
    """The EF with ``fid``, or ``None``."""
    return _BY_FID.get(fid)


@dataclass(frozen=True)
class Environment:
    """One algorithm environment: its DDF and the storage keys of everything under it."""

    label: str
    ddf_fid: int
    ddf_name: bytes
    path: str
    block_size: int
    algorithms: frozenset[KeyAlgorithm]
    challenge_lengths: tuple[int, ...]
    """GET CHALLENGE Le values: 04/08 for DES, 04/08/10 for SSF33 (Part 9 table 13)."""

    @property
    def adf_path(self) -> str:
        """Storage key (and presence marker) of the environment's DF01."""
        return f"{self.path}/{ADF_FID:04X}"

    def df_path(self, in_adf: bool) -> str:
        """The DDF's or the ADF's storage path."""
        return self.adf_path if in_adf else self.path

    def ef_key(self, fid: int) -> str:
        """Storage key of a transparent EF of this environment."""
        spec = _BY_FID[fid]
        return f"{self.df_path(spec.in_adf)}/{fid:04X}"

    def dir_record_key(self, number: int) -> str:
        """Storage key of DIR record ``number`` (1-based)."""
        return f"{self.path}/{DIR_FID:04X}/{number:02X}"

    def key_record_key(self, authority: Authority, key_type: int, ident: int) -> str:
        """Storage key of the record of (``key_type``, ``ident``) in ``authority``'s key file."""
        return f"{self.adf_path}/{authority.key_file:04X}/{key_type:02X}-{ident:02X}"

    @property
    def master_key_key(self) -> str:
        """Storage key of the ADF master key (ADF-MK), kept outside the key files (Part 9 §6)."""
        return f"{self.adf_path}/MK"

    def tries_key(self, kid: int) -> str:
        """Storage key of authentication key ``kid``'s counter: maximum ‖ remaining."""
        return f"{self.adf_path}/tries/{kid:02X}"


DES_ENVIRONMENT = Environment(
    "DES",
    MF_FID,
    "sx1.sh.社会保障".encode("gbk"),
    f"{MF_FID:04X}",
    8,
    frozenset({KeyAlgorithm.TDES, KeyAlgorithm.DES}),
    (4, 8),
)
SM4_ENVIRONMENT = Environment(
    "SM4/SSF33",
    0xDDF1,
    "sx2.sh.社会保障".encode("gbk"),
    f"{MF_FID:04X}/DDF1",
    16,
    frozenset({KeyAlgorithm.SSF33, KeyAlgorithm.SM4}),
    (4, 8, 16),
)
ENVIRONMENTS: tuple[Environment, ...] = (DES_ENVIRONMENT, SM4_ENVIRONMENT)


def environment_for(cipher: Algorithm) -> Environment:
    """The environment holding keys of ``cipher``: DES, or SM4/SSF33."""
    return DES_ENVIRONMENT if cipher is Algorithm.DES else SM4_ENVIRONMENT


_SECRET = re.compile(r"/(MK|00(11|12|13)/[0-9A-F]{2}-[0-9A-F]{2})$")


def is_secret(key: str) -> bool:
    """Whether storage ``key`` holds a key (a key record or an ADF master key).

    The simulator's card images mark these ``"secret": true``.
    """
    return _SECRET.search(key) is not None
