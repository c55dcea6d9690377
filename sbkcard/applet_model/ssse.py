"""The national file tree of the social security card (S2 tables 1–8).

The SSSE DDF, selected by its name ``sx1.sh.社会保障``
(``73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF``), holds the basic data files
EF05–EF08 and the application DFs DF01–DF04 and DF07, each with every EF of the V2.0
notice: identifier, SFI, structure, size and read/write condition. The items of each
file come from :mod:`sbkcard.applet_model.data_items`.

Layout versions (S2 appendix C; S3 §10.2): the first three characters of
SSSE EF05 tag ``03`` decide — ``"1.0"`` (or empty) LB002-2000, ``"2.0"`` the V2.0
notice, ``"3.0"`` the V2.0 tree with EF06 readable only after external authentication
with RKSSSE (S3 §10.2).

The 1.0x tree is derived from the V2.0 one (:func:`national_tree` with
``Layout.V1``), keeping of LB002-2000 what the V2.0 notice tells: no ★ item
(table 9), so no ※ file (tables 3–8: every item of one is ★) and no △ application
(table 2: DF07); the tags appendix C reuses at their 1.00 slot lengths, which keeps
the files of those tags (DF01 EF0A, DF02 EF09, DF04 EF06: the deleted 工资信息文件,
就业证信息文件, 医疗保险账户信息文件 had those identifiers); the 附表二 items at their
old lengths. Where the text is silent (LB002-2000 itself is not part of it), the model
chooses:

- files keep their V2.0 identifiers, structure and access rules; a file is sized for
  the items it keeps at their 1.0x lengths (LB002-2000's deleted items, 附表二 一, are
  not declared, so a 1.00 file has no room for them);
- DF01 EF15 (学历信息文件) stays in DF01, where the reader interface addresses it on
  every card, though 附表一 says LB002-2000 kept it in the employment area; it keeps
  three 学位信息 records (table 9 marks the third ★; the records codec writes three);
- the DF04 purse and EF08 (医疗交易明细文件) are not ※ (tables 7, 9): 1.00 cards have them;
- the SSSE's FCI has no ``9F0C`` template with the algorithm: the terminal then picks
  it from the region (S3 §10.1: SSF33 for ``11``, DES for the others).

Beyond the standard's tables, the tree holds two things every card needs:

- the SSSE directory file (DIR, SFI ``1E``, no FID): the FCI of a real card announces
  it with ``88 01 1E`` (observed), and Part 3 §6.3 says it holds one application
  template ``61`` (``4F`` AID, ``50`` label) per application DF;
- the medical purse of DF04 (S2 §7: "医疗保险金额文件, COS 内部操作文件"), 20 bytes:
  online counter 2, offline counter 2, balance 4, SPIP 4, SPFP 4, payment year 2,
  year start MMDD 2.
"""

from __future__ import annotations

import dataclasses
import functools
from enum import Enum

from sbkcard.applet_model.data_items import FILE_ITEMS, v1_length
from sbkcard.applet_model.tree import (
    DF,
    EF,
    FREE,
    NEVER,
    PIN,
    SSSE_AID,
    Access,
    Category,
    Structure,
    Tree,
    key,
    pin_and,
    pin_or,
)
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm

__all__ = [
    "APPLICATION_RID",
    "PURSE_SIZE",
    "SSSE_AID",
    "Layout",
    "LayoutError",
    "dir_records",
    "national_tree",
]

APPLICATION_RID = bytes.fromhex("D156000005")
"""The national RID of the application AIDs D1 56 00 00 05 0x (S2 table 2)."""

DIR_SFI = 0x1E
"""SFI of the SSSE directory file, as announced by real cards' FCI."""

PURSE_SIZE = 20
"""Bytes of the DF04 purse (S2 §7 after table 9)."""


class LayoutError(SbkcardError, ValueError):
    """A specification version string that names no known layout."""


class Layout(Enum):
    """The card layouts of S3 §10.2 ("1.0 卡", "2.0 卡", "3.0 卡")."""

    V1 = "1.0"
    V2 = "2.0"
    V3 = "3.0"

    @classmethod
    def of(cls, version: str) -> Layout:
        """The layout of an EF05 tag ``03`` version string (first three characters).

        An empty version means 1.0x (S3 §10.2).
        """
        head = version.strip("\x00 ")[:3]
        if not head:
            return cls.V1
        for layout in cls:
            if layout.value == head:
                return layout
        raise LayoutError(f"specification version {version!r}: expected 1.0x, 2.0x or 3.0x")

    @property
    def has_name_extension(self) -> bool:
        """EF06 tag ``4E`` (姓名扩展) exists from 2.0 on (S3 §10.2)."""
        return self is not Layout.V1


def _ef(
    df: str,
    fid: int,
    zh: str,
    en: str,
    structure: Structure,
    read: Access,
    write: Access,
    *,
    records: int = 0,
    category: Category = Category.ENABLED,
) -> EF:
    """The EF ``fid`` of the DF at path ``df``, sized by its items (S2 tables 3–8, 9).

    A variable-length record file holds every item's TLV, a transparent file its one
    item; a fixed-record file has one record per occurrence of its B-TLV group, a cyclic
    file ``records`` records of its positional items.
    """
    items = FILE_ITEMS[f"{df}/EF{fid & 0xFF:02X}"]
    size = record_length = 0
    if structure is Structure.LINEAR_FIXED:
        (group,) = items
        record_length, records = group.tlv_size, group.repeat
    elif structure is Structure.CYCLIC:
        record_length = sum(it.length for it in items)
    else:
        size = sum(it.tlv_size * it.repeat for it in items)
    return EF(
        fid,
        fid & 0x1F,
        zh,
        en,
        structure,
        read,
        write,
        size=size,
        record_length=record_length,
        records=records,
        items=items,
        category=category,
    )


_V, _C, _F, _T = (
    Structure.LINEAR_VARIABLE,
    Structure.CYCLIC,
    Structure.LINEAR_FIXED,
    Structure.TRANSPARENT,
)


def _df01() -> DF:
    p = "SSSE/DF01"
    r = pin_or("RK1DF01")
    efs = [
        _ef(p, 0xEF05, "户籍信息文件", "household registration", _V, r, key("UK1DF01")),
        _ef(p, 0xEF06, "常住地信息文件", "residence", _V, r, key("UK4DF01")),
        _ef(p, 0xEF07, "个人状况信息文件", "personal status", _V, r, key("UK2DF01")),
        _ef(p, 0xEF08, "婚姻状况信息文件", "marital status", _V, r, key("UK3DF01")),
        _ef(
            p,
            0xEF09,
            "人员身份及就业单位信息文件",
            "status and employer",
            _V,
            r,
            key("UK2DF01"),
        ),
        _ef(
            p,
            0xEF0A,
            "国籍及政治面貌信息文件",
            "nationality and affiliation",
            _V,
            r,
            key("UK5DF01"),
        ),
        _ef(p, 0xEF15, "学历信息文件", "education", _V, r, key("UK6DF01")),
    ]
    for n, (fid, uk) in enumerate(zip(range(0xEF16, 0xEF1B), "789AB", strict=True), start=1):
        efs.append(
            _ef(
                p,
                fid,
                f"预留信息文件 {n}",
                f"reserved file {n}",
                _T,
                FREE,
                key(f"UK{uk}DF01"),
                category=Category.RESERVED,
            )
        )
    return DF(
        0xDF01,
        APPLICATION_RID + b"\x00",
        "公共应用信息区",
        "public information",
        "STKDF01",
        key("BK"),
        efs=tuple(efs),
    )


def _df02() -> DF:
    p = "SSSE/DF02"
    r = pin_or("RK1DF02")
    efs = (
        _ef(
            p,
            0xEF05,
            "职业和专业技能信息文件",
            "vocational and professional skills",
            _V,
            r,
            key("UK1DF02"),
            category=Category.PRESET,
        ),
        _ef(p, 0xEF06, "就业状况信息文件", "employment status", _V, r, key("UK2DF02")),
        _ef(
            p,
            0xEF07,
            "就业记录信息文件",
            "employment records",
            _C,
            r,
            key("UK3DF02"),
            records=4,
        ),
        _ef(
            p,
            0xEF09,
            "就业失业登记证信息文件",
            "employment registration certificate",
            _V,
            r,
            key("UK4DF02"),
        ),
        _ef(
            p,
            0xEF15,
            "就业援助对象认定信息文件",
            "employment-aid recognition",
            _V,
            r,
            key("UK5DF02"),
        ),
        _ef(
            p,
            0xEF16,
            "就业扶持政策享受信息文件",
            "employment-support benefits",
            _C,
            r,
            key("UK6DF02"),
            records=4,
        ),
    )
    return DF(
        0xDF02,
        APPLICATION_RID + b"\x01",
        "就业与失业信息区",
        "employment and unemployment",
        "STKDF02",
        key("BK"),
        efs=efs,
    )


def _df03() -> DF:
    p = "SSSE/DF03"
    r1 = pin_or("RK1DF03")
    efs = (
        _ef(
            p,
            0xEF05,
            "失业保险信息文件",
            "unemployment insurance",
            _V,
            pin_or("RK2DF03"),
            key("UK1DF03"),
        ),
        _ef(
            p,
            0xEF06,
            "劳动能力鉴定信息文件",
            "work-ability appraisal",
            _V,
            r1,
            key("UK2DF03"),
        ),
        _ef(p, 0xEF07, "养老保险信息文件", "pension insurance", _V, r1, key("UK3DF03")),
        _ef(p, 0xEF15, "工伤保险信息文件", "work-injury insurance", _V, r1, key("UK4DF03")),
        _ef(p, 0xEF16, "生育保险信息文件", "maternity insurance", _V, r1, key("UK5DF03")),
        _ef(
            p,
            0xEF17,
            "工伤认定信息文件",
            "work-injury determination",
            _V,
            r1,
            key("UK6DF03"),
        ),
        _ef(p, 0xEF18, "供养亲属信息文件", "dependants", _V, r1, key("UK7DF03")),
        _ef(p, 0xEF19, "参保凭证信息文件", "proofs of insurance", _F, r1, key("UK8DF03")),
    )
    return DF(
        0xDF03,
        APPLICATION_RID + b"\x02",
        "社会保险信息区1",
        "social insurance 1",
        "STKDF03",
        key("LKDF03"),
        efs=efs,
    )


def _df04() -> DF:
    p = "SSSE/DF04"
    r = pin_or("RK1DF04")
    purse = EF(
        None,
        None,
        "医疗保险金额文件",
        "medical purse",
        Structure.PURSE,
        PIN,
        NEVER,
        size=PURSE_SIZE,
    )
    efs = (
        _ef(p, 0xEF05, "医疗保险基本信息文件", "medical insurance", _V, r, key("UK1DF04")),
        _ef(
            p,
            0xEF06,
            "医疗保险临时脱网结算信息文件",
            "temporary offline settlement",
            _V,
            pin_and("RK1DF04"),
            key("UK2DF04"),
        ),
        _ef(
            p,
            0xEF08,
            "医疗交易明细文件",
            "medical transactions",
            _C,
            PIN,
            NEVER,
            records=30,
        ),
        _ef(
            p,
            0xEF15,
            "特殊医疗结算记录文件",
            "special medical settlements",
            _C,
            r,
            key("UK2DF04"),
            records=8,
        ),
        purse,
    )
    return DF(
        0xDF04,
        APPLICATION_RID + b"\x03",
        "社会保险信息区2",
        "social insurance 2 (medical)",
        "STKDF04",
        key("LKDF04"),
        efs=efs,
    )


def _df07() -> DF:
    p = "SSSE/DF07"
    pre = Category.PRESET
    efs = (
        _ef(
            p,
            0xEF05,
            "荣誉信息文件",
            "honours",
            _V,
            key("RK1DF07"),
            key("UK1DF07"),
            category=pre,
        ),
        _ef(
            p,
            0xEF06,
            "专家信息文件",
            "expert status",
            _V,
            key("RK2DF07"),
            key("UK2DF07"),
            category=pre,
        ),
        _ef(
            p,
            0xEF07,
            "军队转业干部信息文件",
            "transferred military officers",
            _V,
            key("RK3DF07"),
            key("UK3DF07"),
            category=pre,
        ),
    )
    return DF(
        0xDF07,
        APPLICATION_RID + b"\x04",
        "人事人才信息区",
        "personnel and talent",
        "STKDF07",
        key("BK"),
        efs=efs,
    )


def dir_records(dfs: tuple[DF, ...]) -> bytes:
    """The DIR file's records: one template ``61`` (``4F`` AID, ``50`` label) per DF.

    Part 3 §6.3 tables 2–3; labels in GBK.
    """
    out = bytearray()
    for df in dfs:
        label = df.label.encode("gbk")
        body = bytes([0x4F, len(df.aid)]) + df.aid + bytes([0x50, len(label)]) + label
        out += bytes([0x61, len(body)]) + body
    return bytes(out)


@functools.cache
def national_tree(layout: Layout, algorithm: Algorithm) -> Tree:
    """The tree of a card of ``layout`` whose keys are of ``algorithm``.

    2.0x and 3.0x: the V2.0 tree, the SSSE announcing ``algorithm`` (FCI tag ``86``); on
    3.0x cards EF06 is read after external authentication with RKSSSE (S3 §10.2). 1.0x:
    derived from the V2.0 tree, no algorithm announced (see the module docstring). The
    tree is immutable and built once per layout and algorithm.
    """
    if layout is Layout.V1:
        return Tree(layout.value, _v1_ssse(national_tree(Layout.V2, algorithm).ssse))
    dfs = (_df01(), _df02(), _df03(), _df04(), _df07())
    directory = dir_records(dfs)
    dir_ef = EF(
        None,
        DIR_SFI,
        "社会保障系统目录文件",
        "SSSE directory",
        _V,
        FREE,
        key("UKSSSE"),
        size=len(directory),
    )
    ef06_read = key("RKSSSE") if layout is Layout.V3 else FREE
    p = "SSSE"
    efs = (
        dir_ef,
        _ef(p, 0xEF05, "发卡机构数据文件", "issuer data", _V, FREE, key("UKSSSE")),
        _ef(p, 0xEF06, "持卡人的基本信息文件", "cardholder", _V, ef06_read, key("UKSSSE")),
        _ef(
            p,
            0xEF07,
            "指纹数据文件",
            "fingerprints",
            _T,
            key("RKSSSE"),
            key("UKSSSE"),
            category=Category.PRESET,
        ),
        _ef(
            p,
            0xEF08,
            "照片信息文件",
            "photo",
            _T,
            key("RKSSSE"),
            key("UKSSSE"),
            category=Category.PRESET,
        ),
    )
    ssse = DF(
        None,
        SSSE_AID,
        "社会保障系统环境",
        "social security system environment",
        "STKSSSE",
        key("BK"),
        efs=efs,
        dfs=dfs,
        dir_sfi=DIR_SFI,
        discretionary=bytes([0x86, 0x01, algorithm.value]),
        master_key="MKSSSE",
        pin=True,
    )
    return Tree(layout.value, ssse)


def _v1_ef(path: str, ef: EF) -> EF | None:
    """``ef`` on a 1.0x card: ``None`` when it holds only ★ items (a ※ file)."""
    if not ef.items:
        return ef  # the DIR and the purse: no table 9 items
    kept = tuple(it for it in ef.items if v1_length(path, it) is not None)
    if not kept:
        return None
    lengths = [v1_length(path, it) or 0 for it in kept]
    if ef.structure is Structure.CYCLIC:
        return dataclasses.replace(ef, items=kept, record_length=sum(lengths))
    if ef.structure is Structure.LINEAR_FIXED:
        return dataclasses.replace(ef, items=kept)
    size = sum(
        (n if it.tag is None else 2 + n) * it.repeat for it, n in zip(kept, lengths, strict=True)
    )
    return dataclasses.replace(ef, items=kept, size=size)


def _v1_df(path: str, df: DF) -> DF | None:
    """``df`` on a 1.0x card: its EFs and DFs that LB002-2000 had, ``None`` if none is left."""
    efs = tuple(e for ef in df.efs if (e := _v1_ef(f"{path}/{ef.name}", ef)) is not None)
    dfs = tuple(d for sub in df.dfs if (d := _v1_df(f"{path}/{sub.name}", sub)) is not None)
    if not efs and not dfs:
        return None
    return dataclasses.replace(df, efs=efs, dfs=dfs)


def _v1_ssse(ssse: DF) -> DF:
    """The SSSE of a 1.0x card, from the V2.0 one (S2 tables 2–9 ★ ※ △, appendix C)."""
    dfs = tuple(d for df in ssse.dfs if (d := _v1_df(f"{ssse.name}/{df.name}", df)) is not None)
    directory = dir_records(dfs)
    efs = tuple(
        dataclasses.replace(ef, size=len(directory)) if ef.sfi == DIR_SFI and ef.fid is None else e
        for ef in ssse.efs
        if (e := _v1_ef(f"{ssse.name}/{ef.name}", ef)) is not None
    )
    return dataclasses.replace(ssse, efs=efs, dfs=dfs, discretionary=b"")
