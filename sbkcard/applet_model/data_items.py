"""Every data item of the V2.0 file structure, declared once (S2 table 9).

One :class:`DataItem` per row of 人社信息函[2012]37号 table 9 ("数据项的格式与属性"):
tag, Chinese and English name, format (``an``/``cn``/``b``/B-TLV), length — the
standard writes every tag and length in **hex**, and so does this table — and the
file it lives in. Repeated items ("学位信息 1/2/3") are one item with ``repeat`` set
(the reader interface addresses them as ``tag:n``, e.g. ``DF01EF15|40:2|$``); B-TLV
groups carry their member items. Items of cyclic and transparent files have no tag:
they are positional fields of a fixed-length record.

``kind`` says how :mod:`sbkcard.applet_model.records` types a value: ``an`` text,
``cn`` digit strings, ``cn 4`` dates (``CCYYMMDD``) and the ``cn 7`` transaction time,
binary amounts in fen (分), raw bytes.

:data:`FILE_ITEMS` maps each file path (``"SSSE/EF05"``, ``"SSSE/DF04/EF08"``, as in
:mod:`sbkcard.applet_model.ssse`) to its items in record order. Items marked ``added``
are the ★ items the V2.0 notice added to LB002-2000 (absent on "1.00" cards).
:data:`LEGACY_ITEMS` holds appendix C: tags the V2.0 notice reuses with a new meaning,
their 1.00 definition, and the trailing-``EE`` rule that tells them apart;
:data:`RESIZED_ITEMS` the items 附表二 kept with another length. :data:`ONE_OF` holds
the items a card keeps in exactly one of the files that declare them (S2 §7, after
table 9).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "FILE_ITEMS",
    "LEGACY_ITEMS",
    "ONE_OF",
    "RESIZED_ITEMS",
    "DataItem",
    "Format",
    "Kind",
    "LegacyItem",
    "OneOf",
    "ResizedItem",
    "all_items",
    "file_items",
    "item",
    "legacy",
    "one_of",
    "resized",
    "v1_length",
]


class Format(Enum):
    """Data formats of table 9 (S2 §7)."""

    AN = "an"
    CN = "cn"
    B = "b"
    BTLV = "B-TLV"


class Kind(Enum):
    """How a value is typed when decoded (see :mod:`sbkcard.applet_model.records`)."""

    TEXT = "text"  # an: GBK text, 00-padded → str
    DIGITS = "digits"  # cn: BCD digits, F-padded → str
    DATE = "date"  # cn 4 CCYYMMDD → datetime.date | None
    DATETIME = "datetime"  # cn 7 CCYYMMDDhhmmss → datetime.datetime | None
    AMOUNT = "amount"  # b: unsigned big-endian integer (fen, sequence numbers) → int
    BYTES = "bytes"  # b: raw bytes
    CARD_ID = "card_id"  # EF05 tag 01, cn 16 → sbkcard.identifiers.CardId
    GROUP = "group"  # B-TLV: a record holding member items


@dataclass(frozen=True)
class DataItem:
    """One data item (a row of S2 table 9).

    ``tag`` is the simple-TLV tag (the record identifier), ``None`` for a positional
    field of a cyclic or transparent file; ``length`` is the value length in bytes
    (table 9 gives it in hex); ``repeat`` > 1 for items stored as several records with
    the same tag; ``members`` for a B-TLV group.
    """

    tag: int | None
    field: str
    zh: str
    en: str
    fmt: Format
    length: int
    kind: Kind
    repeat: int = 1
    members: tuple[DataItem, ...] = ()
    added: bool = False

    @property
    def tlv_size(self) -> int:
        """Bytes one occurrence takes in a record: ``tag len value`` or the bare value."""
        return self.length if self.tag is None else 2 + self.length

    @property
    def label(self) -> str:
        """The tag in the standard's notation, e.g. ``'4E'`` (``'-'`` for positional)."""
        return "-" if self.tag is None else f"{self.tag:02X}"

    def __str__(self) -> str:
        size = f"{self.fmt.value} {self.length:02X}"
        repeat = f" ×{self.repeat}" if self.repeat > 1 else ""
        return f"{self.label} {self.zh} ({self.en}) {size}{repeat}"


def _an(
    tag: int | None, field: str, zh: str, en: str, length: int, *, added: bool = False
) -> DataItem:
    return DataItem(tag, field, zh, en, Format.AN, length, Kind.TEXT, added=added)


def _cn(
    tag: int | None, field: str, zh: str, en: str, length: int, *, added: bool = False
) -> DataItem:
    return DataItem(tag, field, zh, en, Format.CN, length, Kind.DIGITS, added=added)


def _date(tag: int | None, field: str, zh: str, en: str, *, added: bool = False) -> DataItem:
    return DataItem(tag, field, zh, en, Format.CN, 4, Kind.DATE, added=added)


def _amount(
    tag: int | None, field: str, zh: str, en: str, length: int, *, added: bool = False
) -> DataItem:
    return DataItem(tag, field, zh, en, Format.B, length, Kind.AMOUNT, added=added)


def _bytes(field: str, zh: str, en: str, length: int, *, added: bool = False) -> DataItem:
    return DataItem(None, field, zh, en, Format.B, length, Kind.BYTES, added=added)


def _group(
    tag: int,
    field: str,
    zh: str,
    en: str,
    length: int,
    repeat: int,
    members: tuple[DataItem, ...],
    *,
    added: bool = False,
) -> DataItem:
    size = sum(m.tlv_size for m in members)
    if size != length:
        raise ValueError(f"B-TLV {tag:02X}: members take {size:#x} bytes, table 9 says {length:#x}")
    return DataItem(tag, field, zh, en, Format.BTLV, length, Kind.GROUP, repeat, members, added)


_DEGREE = (
    _an(0x57, "degree_code", "学位代码", "degree code", 0x03),
    _cn(0x58, "major_category", "所学专业类别", "field of study", 0x03),
    _an(0x59, "school", "毕业学校名称", "school name", 0x28),
)
_WORKER_QUALIFICATION = (
    _an(0x5A, "name_code", "职业资格（工人技术等级）名称代码", "qualification code", 0x07),
    _an(0x5B, "grade", "职业资格（工人技术等级）等级", "grade", 0x01),
    _an(0x5C, "issuer", "职业资格（工人技术等级）证书发证/年检机构名称", "issuing body", 0x46),
    _date(0x5D, "issue_date", "职业资格（工人技术等级）证书发证/年检日期", "issue or review date"),
    _an(
        0x5E,
        "certificate",
        "职业资格（工人技术等级）证书编号",
        "certificate number",
        0x10,
        added=True,
    ),
)
_PROFESSIONAL_QUALIFICATION = (
    _an(
        0x33,
        "name_code",
        "职业资格（专业技术人员）名称代码",
        "qualification code",
        0x03,
        added=True,
    ),
    _an(
        0x34,
        "authority",
        "职业资格（专业技术人员）注册登记/年检机构名称",
        "registering body",
        0x46,
        added=True,
    ),
    _date(
        0x35,
        "registration_date",
        "职业资格（专业技术人员）注册登记/年检日期",
        "registration or review date",
        added=True,
    ),
    _an(
        0x36,
        "certificate",
        "职业资格（专业技术人员）证书编号",
        "certificate number",
        0x10,
        added=True,
    ),
)
_EMPLOYMENT_AID = (
    _an(0x10, "aid_type", "认定为就业援助对象类型", "employment-aid category", 0x03, added=True),
    _date(0x11, "aid_date", "就业援助认定日期", "date recognised", added=True),
    _cn(0x12, "aid_region", "就业援助认定地行政区划代码", "region recognised in", 0x03, added=True),
)
_CONFIRMATION = (
    _an(0x13, "item_code", "申请确认事项代码", "confirmation item code", 0x02, added=True),
    _an(0x14, "conclusion", "确认事项结论", "conclusion", 0x01, added=True),
    _an(0x15, "aid_device", "配置辅助器具项目名称", "assistive device", 0x14, added=True),
    _date(0x16, "apply_date", "申请劳动能力确认日期", "application date", added=True),
    _an(0x17, "authority", "申请劳动能力确认机构名称", "confirming body", 0x3C, added=True),
)
_CERTIFICATE = (
    _an(0x18, "scheme", "险种类型", "insurance scheme", 0x03, added=True),
    _cn(0x19, "region", "参保地所属行政区划代码", "insured region", 0x03, added=True),
    _date(0x1A, "start_date", "本地参保起始日期", "local cover start", added=True),
    _date(0x1B, "end_date", "本地参保终止日期", "local cover end", added=True),
    _cn(
        0x1C, "paid_amount", "本地个人实际缴费金额", "contributions paid locally", 0x04, added=True
    ),
    _an(0x1D, "paid_months", "本地实际缴费月数", "months paid locally", 0x03, added=True),
    _date(0x1E, "issue_date", "凭证出具日期", "certificate date", added=True),
)

_FILES: dict[str, tuple[DataItem, ...]] = {
    # -- 基本应用数据区 (SSSE, S2 table 3) ----------------------------------------------
    "SSSE/EF05": (
        DataItem(
            0x01, "card_id", "卡的识别码", "card identification code", Format.CN, 0x10, Kind.CARD_ID
        ),
        _an(0x02, "card_type", "卡的类别", "card type", 0x01),
        _an(0x03, "version", "规范版本", "specification version", 0x04),
        _cn(0x04, "init_org", "初始化机构编号", "initialising organisation number", 0x0C),
        _date(0x05, "issue_date", "发卡日期", "issue date"),
        _date(0x06, "expiry", "卡有效期", "expiry date"),
        _an(0x07, "card_number", "卡号", "card number", 0x09),
    ),
    "SSSE/EF06": (
        _an(0x08, "ssn", "社会保障号码", "social security number", 0x12),
        _an(0x09, "name", "姓名", "name", 0x1E),
        _an(0x4E, "name_ext", "姓名扩展", "name extension", 0x14, added=True),
        _an(0x0A, "gender", "性别", "gender", 0x01),
        _cn(0x0B, "ethnicity", "民族", "ethnicity", 0x01),
        _cn(0x0C, "birthplace", "出生地", "birthplace", 0x03),
        _date(0x0D, "birth_date", "出生日期", "date of birth"),
    ),
    "SSSE/EF07": (_bytes("fingerprint", "指纹", "fingerprints", 0x300),),
    "SSSE/EF08": (_bytes("photo", "数字相片", "photo (JPEG/BMP)", 0x1000, added=True),),
    # -- 公共应用数据区 (DF01, S2 table 4) ----------------------------------------------
    "SSSE/DF01/EF05": (
        _an(0x20, "hukou_type", "户口类别", "household registration type", 0x02),
        _an(0x21, "hukou_address", "户口所在地地址", "registered address", 0x50),
        _cn(0x0E, "hukou_region", "户口所在地行政区划代码", "registered region", 0x03, added=True),
    ),
    "SSSE/DF01/EF06": (
        _an(0x23, "residence_address", "常住所在地地址", "residence address", 0x50, added=True),
        _cn(
            0x24, "residence_region", "常住所在地行政区划代码", "residence region", 0x03, added=True
        ),
        _an(0x28, "phone", "联系电话", "telephone", 0x0F),
        _an(
            0x2C,
            "contact_name",
            "联系人（监护人）姓名",
            "contact (guardian) name",
            0x32,
            added=True,
        ),
        _an(
            0x2D,
            "contact_phone",
            "联系人（监护人）电话",
            "contact (guardian) telephone",
            0x0F,
            added=True,
        ),
    ),
    "SSSE/DF01/EF07": (
        _an(
            0x29,
            "employment_status",
            "个人就业或离退休（职）状态",
            "employment or retirement status",
            0x01,
        ),
    ),
    "SSSE/DF01/EF08": (_an(0x2B, "marital_status", "婚姻状况", "marital status", 0x01),),
    "SSSE/DF01/EF09": (
        _an(0x2E, "employer_name", "单位名称", "employer name", 0x46),
        _an(0x30, "employer_code", "单位组织机构代码", "employer organisation code", 0x09),
        _an(0x32, "person_category", "人员身份类别", "personal status category", 0x02, added=True),
    ),
    "SSSE/DF01/EF0A": (
        _an(0x37, "nationality", "国籍", "nationality (ISO 3166 alpha-3)", 0x03, added=True),
        _an(0x38, "political_status", "政治面貌", "political affiliation", 0x02, added=True),
        _date(0x39, "party_date", "参加党派日期", "date joined party", added=True),
    ),
    "SSSE/DF01/EF15": (
        _cn(0x2A, "education", "学历", "education level", 0x01),
        _group(0x40, "degrees", "学位信息", "degree", 0x34, 3, _DEGREE),
    ),
    **{
        f"SSSE/DF01/EF{fid:02X}": (
            _bytes("data", f"预留信息文件 {n}", f"reserved file {n}", 0x128, added=True),
        )
        for n, fid in enumerate(range(0x16, 0x1B), start=1)
    },
    # -- 就业与失业数据区 (DF02, S2 table 5) --------------------------------------------
    "SSSE/DF02/EF05": (
        _an(0x42, "title_code", "专业技术职务代码", "professional title code", 0x03),
        _an(0x41, "title_level", "专业技术职务级别", "professional title level", 0x03, added=True),
        _group(
            0x43,
            "worker_qualifications",
            "职业资格（工人技术等级）信息",
            "vocational qualification",
            0x6C,
            2,
            _WORKER_QUALIFICATION,
        ),
        _group(
            0x44,
            "professional_qualifications",
            "职业资格（专业技术人员）信息",
            "professional qualification",
            0x65,
            2,
            _PROFESSIONAL_QUALIFICATION,
            added=True,
        ),
    ),
    "SSSE/DF02/EF06": (
        _date(0x4C, "employment_date", "最近一次办理就业登记日期", "last employment registration"),
        _an(
            0x4B,
            "employment_type",
            "就业登记类型及形式",
            "employment registration type and form",
            0x05,
            added=True,
        ),
        _cn(
            0x4D,
            "employment_region",
            "就业登记地行政区划代码",
            "employment registration region",
            0x03,
            added=True,
        ),
        _date(
            0x60, "unemployment_date", "最近一次办理失业登记日期", "last unemployment registration"
        ),
        _an(
            0x4F,
            "unemployment_type",
            "失业登记类型、原因及注销原因",
            "unemployment registration type, reason, closure",
            0x06,
            added=True,
        ),
        _cn(
            0x50,
            "unemployment_region",
            "失业登记地行政区划代码",
            "unemployment registration region",
            0x03,
            added=True,
        ),
        _an(0x3A, "occupation", "现从事职业", "current occupation", 0x07),
    ),
    "SSSE/DF02/EF07": (
        _an(None, "occupation", "从事职业", "occupation", 0x07),
        _date(None, "start_date", "就业起始日期", "employment start"),
        _date(None, "end_date", "就业终止日期", "employment end"),
        _an(None, "employer", "就业工作单位名称", "employer", 0x46),
    ),
    "SSSE/DF02/EF09": (
        _an(
            0x55,
            "certificate",
            "就业失业登记证编号",
            "employment registration certificate number",
            0x10,
            added=True,
        ),
        _an(0x56, "issuer", "就业失业登记证发证机构", "certificate issuer", 0x46, added=True),
        _date(
            0x96,
            "issue_date",
            "就业失业登记证发证/年检日期",
            "certificate issue or review date",
            added=True,
        ),
        _cn(
            0x97,
            "region",
            "就业失业登记证发证地行政区划代码",
            "certificate region",
            0x03,
            added=True,
        ),
    ),
    "SSSE/DF02/EF15": (
        _group(
            0x99,
            "aid",
            "就业援助对象认定信息",
            "employment-aid recognition",
            0x10,
            4,
            _EMPLOYMENT_AID,
            added=True,
        ),
        _date(
            0x0F,
            "exit_date",
            "退出就业援助对象范围的认定日期",
            "date left employment aid",
            added=True,
        ),
        _cn(
            0x1F,
            "exit_region",
            "退出就业援助对象范围的认定地行政区划代码",
            "region left employment aid",
            0x03,
            added=True,
        ),
    ),
    "SSSE/DF02/EF16": (
        _an(
            None,
            "policy_type",
            "享受就业扶持政策类型",
            "employment-support policy",
            0x03,
            added=True,
        ),
        _date(None, "approval_date", "享受就业扶持政策核准日期", "approval date", added=True),
        _date(None, "start_date", "就业扶持政策享受开始日期", "benefit start", added=True),
        _date(None, "end_date", "就业扶持政策享受终止日期", "benefit end", added=True),
        _cn(None, "region", "就业扶持政策享受地行政区划代码", "benefit region", 0x03, added=True),
    ),
    # -- 社会保险数据区 1 (DF03, S2 table 6) --------------------------------------------
    "SSSE/DF03/EF05": (
        _cn(
            0x61,
            "region",
            "失业保险参保地所属行政区划代码",
            "unemployment insurance region",
            0x03,
            added=True,
        ),
        _date(
            0x60, "unemployment_date", "最近一次办理失业登记日期", "last unemployment registration"
        ),
        _date(0x98, "claim_date", "最近一次失业保险金申领日期", "last benefit claim"),
        _date(
            0x62,
            "report_date",
            "失业保险金申领报到日期/信息更新日期",
            "claim report or update date",
        ),
        _an(0x63, "contribution_years", "失业保险累计缴费年限", "years contributed", 0x03),
        _an(0x64, "effective_years", "失业保险有效缴费年限", "effective years contributed", 0x03),
        _an(0x65, "entitled_months", "应领取失业保险金月数", "months of benefit due", 0x03),
        _an(0x66, "received_months", "已领取失业保险金月数", "months of benefit received", 0x03),
    ),
    "SSSE/DF03/EF06": (
        _an(0x45, "appraisal_number", "劳动能力鉴定编号", "appraisal number", 0x14, added=True),
        _an(0x46, "appraisal_item", "申请鉴定事项代码", "appraisal item code", 0x02, added=True),
        _an(0x47, "disability_grade", "伤残等级", "disability grade", 0x02, added=True),
        _an(
            0x48,
            "self_care_grade",
            "生活自理障碍等级",
            "self-care impairment grade",
            0x01,
            added=True,
        ),
        _an(0x49, "conclusion", "丧失劳动能力鉴定结论", "incapacity conclusion", 0x01, added=True),
        _date(0x67, "appraisal_date", "劳动能力鉴定日期", "appraisal date"),
        _an(0x6B, "appraisal_body", "劳动能力鉴定机构名称", "appraising body", 0x3C),
        _group(
            0x4A,
            "confirmations",
            "申请确认事项",
            "confirmation request",
            0x61,
            3,
            _CONFIRMATION,
            added=True,
        ),
    ),
    "SSSE/DF03/EF07": (
        _an(0x70, "scheme", "养老保险险种类型", "pension scheme", 0x03, added=True),
        _cn(
            0x71,
            "region",
            "养老保险参保地所属行政区划代码",
            "pension insurance region",
            0x03,
            added=True,
        ),
        _date(0x6E, "account_date", "基本养老保险个人账户建立日期", "personal account opened"),
        _date(0x6C, "retirement_date", "离退休日期", "retirement date"),
        _date(0x6F, "benefit_date", "待遇享受开始日期", "benefits start", added=True),
        _date(0x73, "updated", "养老保险信息更新日期", "last update"),
    ),
    "SSSE/DF03/EF15": (
        _cn(
            0x7A,
            "region",
            "工伤保险参保地所属行政区划代码",
            "work-injury insurance region",
            0x03,
            added=True,
        ),
        _date(
            0x7B, "benefit_date", "工伤定期待遇享受开始日期", "periodic benefits start", added=True
        ),
        _date(0x7C, "updated", "工伤保险信息更新日期", "last update", added=True),
    ),
    "SSSE/DF03/EF16": (
        _cn(
            0x51,
            "region",
            "生育保险参保地所属行政区划代码",
            "maternity insurance region",
            0x03,
            added=True,
        ),
        _an(
            0x5F,
            "spouse_flag",
            "职工未就业配偶标识",
            "non-working spouse of employee",
            0x01,
            added=True,
        ),
    ),
    "SSSE/DF03/EF17": (
        _an(
            0x3B,
            "determination_number",
            "工伤认定编号",
            "work-injury determination number",
            0x14,
            added=True,
        ),
        _an(0x3C, "employer", "用人单位名称", "employer", 0x46, added=True),
        _an(0x3D, "conclusion", "工伤认定结论", "determination", 0x01, added=True),
        _date(0x3E, "determination_date", "工伤认定日期", "determination date", added=True),
        _an(0x3F, "authority", "工伤认定部门名称", "determining authority", 0x3C, added=True),
    ),
    "SSSE/DF03/EF18": (
        _an(0x74, "scheme", "供养险种类型", "dependants' benefit scheme", 0x03, added=True),
        _cn(0x75, "region", "参保地所属行政区划代码", "insured region", 0x03, added=True),
        _cn(0x76, "relation", "供养关系", "dependency relation", 0x01, added=True),
        _date(0x77, "benefit_date", "供养待遇享受开始日期", "benefits start", added=True),
        _date(0x78, "updated", "供养亲属信息更新日期", "last update", added=True),
    ),
    "SSSE/DF03/EF19": (
        _group(
            0x79,
            "certificates",
            "参保凭证信息",
            "proof of insurance",
            0x27,
            4,
            _CERTIFICATE,
            added=True,
        ),
    ),
    # -- 社会保险数据区 2 (DF04, S2 table 7) --------------------------------------------
    "SSSE/DF04/EF05": (
        _an(0x81, "scheme", "医疗保险险种类型及标识", "medical scheme and flags", 0x08, added=True),
        _cn(
            0x84,
            "region",
            "医疗保险参保地所属行政区划代码",
            "medical insurance region",
            0x03,
            added=True,
        ),
        _an(0x87, "health_record", "健康档案编号", "health record number", 0x11, added=True),
        _cn(0x8C, "category", "医疗保险参保人员类别", "insured person category", 0x01),
        _date(0x80, "account_date", "基本医疗保险个人账户建立日期", "personal account opened"),
        _an(0x8B, "account_number", "基本医疗保险个人账号", "personal account number", 0x1D),
        _an(0x8A, "certificate", "医疗证号", "medical certificate number", 0x0F),
        _an(0x83, "hospital1", "定点医疗机构代码 1", "designated hospital 1", 0x09),
        _an(0x86, "hospital2", "定点医疗机构代码 2", "designated hospital 2", 0x09),
        _an(0x89, "hospital3", "定点医疗机构代码 3", "designated hospital 3", 0x09),
        _an(
            0x7D,
            "injury_hospital1",
            "工伤协议医疗机构代码 1",
            "work-injury hospital 1",
            0x09,
            added=True,
        ),
        _an(
            0x7E,
            "injury_hospital2",
            "工伤协议医疗机构代码 2",
            "work-injury hospital 2",
            0x09,
            added=True,
        ),
        _an(
            0x7F,
            "injury_hospital3",
            "工伤协议医疗机构代码 3",
            "work-injury hospital 3",
            0x09,
            added=True,
        ),
        _an(
            0x8D,
            "maternity_hospital1",
            "生育定点医疗机构代码 1",
            "maternity hospital 1",
            0x09,
            added=True,
        ),
        _an(
            0x8E,
            "maternity_hospital2",
            "生育定点医疗机构代码 2",
            "maternity hospital 2",
            0x09,
            added=True,
        ),
        _an(0x8F, "card_usage", "医疗保险用卡方式", "card usage ('1' online, '2' offline)", 0x01),
    ),
    "SSSE/DF04/EF06": (
        _an(
            0x90,
            "offline_allowed",
            "准许脱网医保结算标识",
            "offline settlement allowed",
            0x01,
            added=True,
        ),
        _cn(
            0x92,
            "offline_total",
            "脱网医保结算累计金额",
            "offline settlements total",
            0x04,
            added=True,
        ),
        _an(
            0x93,
            "offline_count",
            "脱网医保结算累计次数",
            "offline settlements count",
            0x02,
            added=True,
        ),
    ),
    "SSSE/DF04/EF08": (
        _amount(None, "seq", "交易序号", "transaction sequence number", 0x02),
        _an(None, "kind", "交易类型", "transaction type ('1' load, '2' settlement)", 0x01),
        _cn(None, "terminal", "终端机编号", "terminal number", 0x06),
        DataItem(None, "time", "交易时间", "transaction time", Format.CN, 0x07, Kind.DATETIME),
        _amount(None, "account", "个人账户交易金额", "personal account amount", 0x04),
        _amount(None, "self_paid", "个人自付金额", "self-paid amount", 0x04),
        _amount(None, "pooled", "统筹基金支付金额", "pooled fund amount", 0x04),
    ),
    "SSSE/DF04/EF15": (  # 特殊医疗结算记录★: both fields ★ in table 9
        _amount(None, "seq", "交易序号", "transaction sequence number", 0x02, added=True),
        _an(None, "settlement", "结算类别", "settlement type", 0x01, added=True),
    ),
    # -- 人事与人才应用数据区 (DF07, S2 table 8) ----------------------------------------
    "SSSE/DF07/EF05": (
        _an(0xF0, "honour_code", "荣誉称号名称代码", "honorary title code", 0x02, added=True),
        _an(0xF1, "honour_level", "荣誉称号级别", "honorary title level", 0x01, added=True),
        _date(0xF2, "honour_date", "荣誉称号批准日期", "title approval date", added=True),
        _an(0xF3, "medal_code", "荣誉奖章名称代码", "medal code", 0x03, added=True),
        _date(0xF4, "medal_date", "荣誉奖章批准日期", "medal approval date", added=True),
    ),
    "SSSE/DF07/EF06": (
        _an(0xF5, "expert_category", "专家类别", "expert category", 0x03, added=True),
        _date(0xF6, "approval_date", "批准日期", "approval date", added=True),
        _an(0xF7, "approving_body", "批准单位名称", "approving body", 0x46, added=True),
    ),
    "SSSE/DF07/EF07": (
        _date(0xF8, "transfer_date", "批准转业日期", "transfer approval date", added=True),
        _an(0xF9, "placement", "安置方式", "placement", 0x01, added=True),
    ),
}

FILE_ITEMS: Mapping[str, tuple[DataItem, ...]] = MappingProxyType(_FILES)
"""Every file's items, in record (or field) order, keyed by file path."""


def file_items(path: str) -> tuple[DataItem, ...]:
    """The items of the file at ``path`` (``KeyError`` if the file holds no items)."""
    return FILE_ITEMS[path]


def all_items() -> Iterator[tuple[str, DataItem]]:
    """``(file path, item)`` for every item, B-TLV members included after their group."""
    for path, items in FILE_ITEMS.items():
        for it in items:
            yield path, it
            for member in it.members:
                yield path, member


def item(path: str, tag: int) -> DataItem:
    """The item of file ``path`` with simple-TLV ``tag`` (``KeyError`` if none)."""
    for it in FILE_ITEMS[path]:
        if it.tag == tag:
            return it
    raise KeyError(f"{path} has no item with tag {tag:02X}")


@dataclass(frozen=True)
class LegacyItem:
    """A tag whose LB002-2000 ("1.00") meaning the V2.0 notice replaced (S2 appendix C).

    On a 1.00 card the record keeps its old length; a new value written there is
    right-padded with ``E`` nibbles, so a value ending in ``EE`` carries the new item
    (read from its first bytes at the new item's format and length), anything else is
    the old item. A "定义变更" row keeps format and length and ``follows`` another
    tag: it carries the new item when that tag does ("通过'38'进行判断"). ``slot_cn``
    is the ``cn`` length appendix C gives a new item that table 9 makes ``an``
    (``55`` 就业失业登记证编号: cn 08 in the slot, an 10 on a V2.0 card).
    """

    path: str
    tag: int
    old_zh: str
    old_format: Format
    old_length: int
    follows: int | None = None
    slot_cn: int | None = None

    @property
    def new(self) -> DataItem:
        """The V2.0 item that reuses the tag."""
        return item(self.path, self.tag)

    @property
    def leader(self) -> DataItem | None:
        """The item whose value tells this one's meaning (``follows``), if any."""
        return None if self.follows is None else item(self.path, self.follows)


LEGACY_ITEMS: tuple[LegacyItem, ...] = (
    LegacyItem("SSSE/DF01/EF09", 0x32, "单位经济类型", Format.AN, 0x03),
    LegacyItem("SSSE/DF01/EF0A", 0x37, "缴费基数", Format.CN, 0x04),
    LegacyItem("SSSE/DF01/EF0A", 0x38, "上年工资总额", Format.CN, 0x04),
    LegacyItem("SSSE/DF01/EF0A", 0x39, "工资信息更新日期", Format.CN, 0x04, follows=0x38),
    LegacyItem("SSSE/DF02/EF06", 0x4B, "首次参加工作日期", Format.CN, 0x04),
    LegacyItem("SSSE/DF02/EF06", 0x4D, "签订劳动合同日期", Format.CN, 0x04),
    LegacyItem("SSSE/DF02/EF06", 0x4F, "终止（解除）劳动合同日期", Format.CN, 0x04),
    LegacyItem("SSSE/DF02/EF06", 0x50, "劳动合同起始日期", Format.CN, 0x04),
    LegacyItem("SSSE/DF02/EF09", 0x55, "外来人员就业证编号", Format.CN, 0x0A, slot_cn=0x08),
    LegacyItem("SSSE/DF02/EF09", 0x56, "就业证签发机关", Format.AN, 0x46, follows=0x55),
    LegacyItem("SSSE/DF02/EF09", 0x96, "就业证签发/年检日期", Format.CN, 0x04, follows=0x55),
    LegacyItem("SSSE/DF02/EF09", 0x97, "就业证有效期", Format.CN, 0x04),
    LegacyItem("SSSE/DF03/EF05", 0x61, "月失业保险金支付标准", Format.CN, 0x04),
    LegacyItem(
        "SSSE/DF03/EF07", 0x71, "基本养老保险个人账户个人缴纳部分本息储存额", Format.CN, 0x04
    ),
    LegacyItem(
        "SSSE/DF03/EF07", 0x6F, "基本养老保险个人账户变更日期", Format.CN, 0x04, follows=0x71
    ),
    LegacyItem("SSSE/DF03/EF07", 0x70, "养老保险费累计缴纳月数", Format.AN, 0x03, follows=0x71),
    LegacyItem("SSSE/DF04/EF05", 0x81, "定点医疗机构名称 1", Format.AN, 0x46),
    LegacyItem("SSSE/DF04/EF05", 0x84, "定点医疗机构名称 2", Format.AN, 0x46),
    LegacyItem("SSSE/DF04/EF05", 0x87, "定点医疗机构名称 3", Format.AN, 0x46),
    LegacyItem("SSSE/DF04/EF06", 0x90, "基本医疗保险个人账户余额", Format.CN, 0x04),
    LegacyItem("SSSE/DF04/EF06", 0x92, "年度个人自付累计金额", Format.CN, 0x04, follows=0x90),
    LegacyItem("SSSE/DF04/EF06", 0x93, "年度统筹基金支付累计金额", Format.CN, 0x04),
)
"""Appendix C's rows: "定义/长度变更" re-written on 1.00 cards with ``E`` padding,
"定义变更" following the tag that tells them apart."""


def legacy(path: str, tag: int | None) -> LegacyItem | None:
    """The appendix C row of item ``tag`` of file ``path``, if the V2.0 notice reused it."""
    return next((lg for lg in LEGACY_ITEMS if lg.path == path and lg.tag == tag), None)


@dataclass(frozen=True)
class ResizedItem:
    """An LB002-2000 ("1.00") item V2.0 kept with its meaning and another length (S2 附表二).

    Appendix C has no rewriting rule for these: as for every other difference, the
    规范版本 tells them apart (its first paragraph), so a 1.0x card keeps the old
    length; a value that does not fit it cannot be written there.
    """

    path: str
    tag: int
    old_length: int


RESIZED_ITEMS: tuple[ResizedItem, ...] = (
    # "原规范“户口类别”长度由'01'变更为'02'"
    ResizedItem("SSSE/DF01/EF05", 0x20, 0x01),
    # "原规范“基本医疗保险个人账号”长度由'0A'变更为'1D'"
    ResizedItem("SSSE/DF04/EF05", 0x8B, 0x0A),
)
"""附表二 "二、原规范指标调整": the length changes of items kept in their file. Not
among them: DF02 EF05 B-TLV member ``5C`` (发证/年检机构代码 an 09 became 名称 an 46, a
new meaning appendix C does not cover), whose groups are read at V2.0 lengths."""


def resized(path: str, tag: int | None) -> ResizedItem | None:
    """The 附表二 length change of item ``tag`` of file ``path``, if it has one."""
    return next((r for r in RESIZED_ITEMS if r.path == path and r.tag == tag), None)


def v1_length(path: str, it: DataItem) -> int | None:
    """The value length of item ``it`` of file ``path`` on a 1.0x card: the 1.00 slot of
    a tag appendix C reuses (new values are ``E``-padded into it), the 附表二 length of a
    resized item, ``None`` for a ★ item LB002-2000 has no record for."""
    old = legacy(path, it.tag)
    if old is not None:
        return old.old_length
    size = resized(path, it.tag)
    if size is not None:
        return size.old_length
    return None if it.added else it.length


@dataclass(frozen=True)
class OneOf:
    """An item declared in several files of which a card keeps it in exactly one.

    S2 §7, after table 9: "'DF02''EF06'文件与'DF03''EF05'文件中的“最近一次办理失业登记
    日期”（标志'60'）两处应存在且仅存在其一". ``paths[0]`` is where new content keeps
    it: the item is defined in that file's clause (§8.3.2.4), the other's refers to it
    (§8.4.1.2).
    """

    tag: int
    paths: tuple[str, ...]

    @property
    def zh(self) -> str:
        """The item's name, e.g. ``最近一次办理失业登记日期``."""
        return item(self.paths[0], self.tag).zh


ONE_OF: tuple[OneOf, ...] = (OneOf(0x60, ("SSSE/DF02/EF06", "SSSE/DF03/EF05")),)
"""The items kept in one file of several (S2 §7, the note after table 9)."""


def one_of(path: str, tag: int | None) -> OneOf | None:
    """The :class:`OneOf` rule that lets file ``path`` leave item ``tag`` out, if any."""
    return next((r for r in ONE_OF if r.tag == tag and path in r.paths), None)
