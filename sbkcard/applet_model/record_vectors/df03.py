"""VECTORS of the DF03 social insurance data area 1 (S2 table 6).

One cardholder's story in Zhengzhou (410100, GB/T 2260), assembled item by item from S2
table 9 and §8.4: each line is one simple-TLV record or part of one (tag and length, then
the value), ``an`` GBK ``00``-padded, ``cn`` BCD ``F``-padded, dates ``cn 4`` CCYYMMDD
(§8.1.1.5), ``FFFFFFFF`` for none; the code tables are S2 tables 31–41.
"""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import (
    ABSENT,
    Confirmation,
    Dependants,
    InjuryDetermination,
    InsuranceCertificates,
    InsuranceProof,
    Maternity,
    Pension,
    UnemploymentInsurance,
    WorkAbility,
    WorkInjury,
)


def _hex(*parts: str) -> bytes:
    """The bytes of hex ``parts`` written one item per line."""
    return bytes.fromhex("".join(parts))


# 60 最近一次办理失业登记日期 is declared here and in DF02 EF06, and a card keeps it in
# exactly one of the two (S2 §7, after table 9): the first two cards keep it here (their
# DF02 EF06 holds no 60), the third in DF02 EF06, so its EF05 has no 60 record.
UnemploymentInsurance.VECTORS = (
    # EF05 while benefits are paid: 96 effective months (8 years) give 18 months of benefit
    (
        _hex(
            "6103410100",  # 61 失业保险参保地所属行政区划代码 cn 03: 410100 郑州市
            "600420240304",  # 60 最近一次办理失业登记日期 cn 04: 2024-03-04
            "980420240311",  # 98 最近一次失业保险金申领日期: 2024-03-11
            "620420240611",  # 62 失业保险金申领报到日期/信息更新日期: 2024-06-11
            "6303303834",  # 63 失业保险累计缴费年限 an 03, months (§8.4.1.5): "084"
            "6403303936",  # 64 失业保险有效缴费年限: "096" (84 + 12 carried over)
            "6503303138",  # 65 应领取失业保险金月数: "018"
            "6603303033",  # 66 已领取失业保险金月数: "003"
            # the issuer's own record E8 (S2 §6: DF03 items may be added; neither table 9
            # nor appendix B uses E8): the monthly benefit, 1650.00 元, that the 1.00 tag 61
            # held, kept as cn 04 in 分; it comes back byte for byte
            "E80400165000",
        ),
        UnemploymentInsurance(
            region="410100",
            unemployment_date=datetime.date(2024, 3, 4),
            claim_date=datetime.date(2024, 3, 11),
            report_date=datetime.date(2024, 6, 11),
            contribution_years="084",
            effective_years="096",
            entitled_months="018",
            received_months="003",
            extra=((0xE8, bytes.fromhex("00165000")),),
        ),
    ),
    # EF05 of an insured worker never unemployed: only the region, the rest empty
    (
        _hex(
            "6103410100",  # 61 失业保险参保地所属行政区划代码: 410100
            "6004FFFFFFFF",  # 60 最近一次办理失业登记日期: none
            "9804FFFFFFFF",  # 98 最近一次失业保险金申领日期: none
            "6204FFFFFFFF",  # 62 失业保险金申领报到日期/信息更新日期: none
            "6303000000",  # 63 失业保险累计缴费年限 an 03: empty, 00-padded
            "6403000000",  # 64 失业保险有效缴费年限: empty
            "6503000000",  # 65 应领取失业保险金月数: empty
            "6603000000",  # 66 已领取失业保险金月数: empty
        ),
        UnemploymentInsurance(
            region="410100",
            unemployment_date=None,
            claim_date=None,
            report_date=None,
            contribution_years="",
            effective_years="",
            entitled_months="",
            received_months="",
        ),
    ),
    # a card that keeps 60 in DF02 EF06, so EF05 has no 60 record: insured in 洛阳市 for
    # four years (48 months give 12 months of benefit), four of them received
    (
        _hex(
            "6103410300",  # 61 失业保险参保地所属行政区划代码 cn 03: 410300 洛阳市
            "980420250210",  # 98 最近一次失业保险金申领日期: 2025-02-10
            "620420250610",  # 62 失业保险金申领报到日期/信息更新日期: 2025-06-10
            "6303303438",  # 63 失业保险累计缴费年限: "048"
            "6403303438",  # 64 失业保险有效缴费年限: "048"
            "6503303132",  # 65 应领取失业保险金月数: "012"
            "6603303034",  # 66 已领取失业保险金月数: "004"
        ),
        UnemploymentInsurance(
            region="410300",
            unemployment_date=ABSENT,
            claim_date=datetime.date(2025, 2, 10),
            report_date=datetime.date(2025, 6, 10),
            contribution_years="048",
            effective_years="048",
            entitled_months="012",
            received_months="004",
        ),
    ),
)

_BOARD = "D6A3D6DDCAD0C0CDB6AFC4DCC1A6BCF8B6A8CEAFD4B1BBE1"  # the name in GBK, 24 bytes
_BOARD_NAME = "郑州市劳动能力鉴定委员会"
_NO_CONFIRMATION = (
    "4A61",  # 4A 申请确认事项, its items empty:
    "13020000",  # 13 申请确认事项代码 an 02: 00-padded
    "140100",  # 14 确认事项结论 an 01
    "1514" + "00" * 20,  # 15 配置辅助器具项目名称 an 14
    "1604FFFFFFFF",  # 16 申请劳动能力确认日期: none
    "173C" + "00" * 60,  # 17 申请劳动能力确认机构名称 an 3C
)

WorkAbility.VECTORS = (
    # EF06 of an injured worker, appraised 伤残八级, with three confirmations (4A ×3), each
    # a B-TLV of 61 bytes: 13 (2+2) 14 (2+1) 15 (2+14) 16 (2+4) 17 (2+3C) = 4+3+22+6+62
    (
        _hex(
            "4514",  # 45 劳动能力鉴定编号 an 14:
            "D6A3C0CDBCF8323032332D30313538" + "00" * 5,  # "郑劳鉴2023-0158", 15 + 5 bytes
            "46023130",  # 46 申请鉴定事项代码 an 02: "10" 工伤职工劳动能力鉴定 (table 31)
            "47023038",  # 47 伤残等级 an 02: "08" 伤残八级 (table 32, GB/T 16180)
            "480134",  # 48 生活自理障碍等级 an 01: "4" 未达等级 (table 33)
            "490100",  # 49 丧失劳动能力鉴定结论 an 01: empty (for illness only, §8.4.2.5)
            "670420230620",  # 67 劳动能力鉴定日期: 2023-06-20
            "6B3C",  # 6B 劳动能力鉴定机构名称 an 3C:
            _BOARD + "00" * 36,  # "郑州市劳动能力鉴定委员会", 24 + 36 bytes
            "4A61",  # 4A 申请确认事项 1:
            "13023230",  # 13 申请确认事项代码 an 02: "20" 延长停工留薪期确认 (table 31)
            "140131",  # 14 确认事项结论 an 01: "1" 通过 (table 35)
            "1514" + "00" * 20,  # 15 配置辅助器具项目名称 an 14: none
            "160420230308",  # 16 申请劳动能力确认日期: 2023-03-08
            "173C" + _BOARD + "00" * 36,  # 17 申请劳动能力确认机构名称 an 3C
            "4A61",  # 4A 申请确认事项 2:
            "13023330",  # 13: "30" 工伤职工配置辅助器具确认
            "140131",  # 14: "1" 通过
            "1514CDF3CAD6BDC3D0CEC6F7" + "00" * 10,  # 15 an 14: "腕手矫形器", 10 + 10
            "160420230912",  # 16: 2023-09-12
            "173C" + _BOARD + "00" * 36,  # 17
            "4A61",  # 4A 申请确认事项 3:
            "13023430",  # 13: "40" 工伤职工康复性治疗确认
            "140130",  # 14: "0" 不通过
            "1514" + "00" * 20,  # 15: none
            "160420231020",  # 16: 2023-10-20
            "173C" + _BOARD + "00" * 36,  # 17
        ),
        WorkAbility(
            appraisal_number="郑劳鉴2023-0158",
            appraisal_item="10",
            disability_grade="08",
            self_care_grade="4",
            conclusion="",
            appraisal_date=datetime.date(2023, 6, 20),
            appraisal_body=_BOARD_NAME,
            confirmations=(
                Confirmation(
                    item_code="20",
                    conclusion="1",
                    aid_device="",
                    apply_date=datetime.date(2023, 3, 8),
                    authority=_BOARD_NAME,
                ),
                Confirmation(
                    item_code="30",
                    conclusion="1",
                    aid_device="腕手矫形器",
                    apply_date=datetime.date(2023, 9, 12),
                    authority=_BOARD_NAME,
                ),
                Confirmation(
                    item_code="40",
                    conclusion="0",
                    aid_device="",
                    apply_date=datetime.date(2023, 10, 20),
                    authority=_BOARD_NAME,
                ),
            ),
        ),
    ),
    # EF06 after an illness: 90 因病或非因工负伤职工劳动能力鉴定, 1 完全丧失 (table 34);
    # no grade and no confirmation, the three 4A records empty
    (
        _hex(
            "4514",  # 45 劳动能力鉴定编号 an 14:
            "D6A3C0CDBCF8323032322D30393331" + "00" * 5,  # "郑劳鉴2022-0931", 15 + 5 bytes
            "46023930",  # 46 申请鉴定事项代码: "90" (table 31)
            "47020000",  # 47 伤残等级 an 02: empty
            "480100",  # 48 生活自理障碍等级 an 01: empty
            "490131",  # 49 丧失劳动能力鉴定结论: "1" 完全丧失 (table 34)
            "670420221209",  # 67 劳动能力鉴定日期: 2022-12-09
            "6B3C" + _BOARD + "00" * 36,  # 6B 劳动能力鉴定机构名称
            *_NO_CONFIRMATION * 3,  # 4A 申请确认事项 1–3
        ),
        WorkAbility(
            appraisal_number="郑劳鉴2022-0931",
            appraisal_item="90",
            disability_grade="",
            self_care_grade="",
            conclusion="1",
            appraisal_date=datetime.date(2022, 12, 9),
            appraisal_body=_BOARD_NAME,
            confirmations=(Confirmation(), Confirmation(), Confirmation()),
        ),
    ),
)

_RETIREE = Pension(
    scheme="110",
    region="410100",
    account_date=datetime.date(1996, 1, 1),
    retirement_date=datetime.date(2023, 12, 1),
    benefit_date=datetime.date(2024, 1, 1),
    updated=datetime.date(2024, 1, 10),
)
"""A retiree's EF07: account opened 1996, retired 2023-12-01, paid from 2024-01-01."""

Pension.VECTORS = (
    # EF07 of a retiree: account opened 1996, retired 2023-12-01, paid from 2024-01-01
    (
        _hex(
            "7003313130",  # 70 养老保险险种类型 an 03: "110" 城镇企业职工基本养老保险 (table 36)
            "7103410100",  # 71 养老保险参保地所属行政区划代码 cn 03: 410100
            "6E0419960101",  # 6E 基本养老保险个人账户建立日期: 1996-01-01
            "6C0420231201",  # 6C 离退休日期: 2023-12-01
            "6F0420240101",  # 6F 待遇享受开始日期: 2024-01-01
            "730420240110",  # 73 养老保险信息更新日期: 2024-01-10
        ),
        _RETIREE,
    ),
    # EF07 of a rural resident still paying in: not retired, no benefit yet
    (
        _hex(
            "7003313730",  # 70 养老保险险种类型: "170" 城乡居民社会养老保险 (table 36)
            "7103410181",  # 71 参保地: 410181 巩义市
            "6E0420150301",  # 6E 基本养老保险个人账户建立日期: 2015-03-01
            "6C04FFFFFFFF",  # 6C 离退休日期: none
            "6F04FFFFFFFF",  # 6F 待遇享受开始日期: none
            "730420240115",  # 73 养老保险信息更新日期: 2024-01-15
        ),
        Pension(
            scheme="170",
            region="410181",
            account_date=datetime.date(2015, 3, 1),
            retirement_date=None,
            benefit_date=None,
            updated=datetime.date(2024, 1, 15),
        ),
    ),
)

Pension.V1_VECTORS = (
    # the retiree's EF07 rewritten on a 1.00 card (S2 appendix C): 71 keeps its old cn 04
    # slot, the new region E-padded; 70 and 6F change definition only and are rewritten
    # with 71, which tells their meaning
    (
        _hex(
            "7003313130",  # 70 养老保险险种类型 an 03: "110" (was 养老保险费累计缴纳月数)
            "7104410100EE",  # 71 参保地 cn 03 in the old cn 04 slot, E-padded
            "6E0419960101",  # 6E 基本养老保险个人账户建立日期: 1996-01-01
            "6C0420231201",  # 6C 离退休日期: 2023-12-01
            "6F0420240101",  # 6F 待遇享受开始日期 (was 个人账户变更日期): 2024-01-01
            "730420240110",  # 73 养老保险信息更新日期: 2024-01-10
        ),
        _RETIREE,
    ),
)

WorkInjury.VECTORS = (
    # EF15: periodic work-injury benefits since 2023-07-01
    (
        _hex(
            "7A03410100",  # 7A 工伤保险参保地所属行政区划代码 cn 03: 410100
            "7B0420230701",  # 7B 工伤定期待遇享受开始日期: 2023-07-01
            "7C0420230705",  # 7C 工伤保险信息更新日期: 2023-07-05
        ),
        WorkInjury(
            region="410100",
            benefit_date=datetime.date(2023, 7, 1),
            updated=datetime.date(2023, 7, 5),
        ),
    ),
    # EF15 of an insured worker with no benefit: 7B left empty
    (
        _hex(
            "7A03410300",  # 7A 工伤保险参保地: 410300 洛阳市
            "7B04FFFFFFFF",  # 7B 工伤定期待遇享受开始日期: none
            "7C0420240115",  # 7C 工伤保险信息更新日期: 2024-01-15
        ),
        WorkInjury(region="410300", benefit_date=None, updated=datetime.date(2024, 1, 15)),
    ),
)

Maternity.VECTORS = (
    # EF16 of a male employee whose wife works: flag 0 否 (table 37)
    (
        _hex(
            "5103410100",  # 51 生育保险参保地所属行政区划代码 cn 03: 410100
            "5F0130",  # 5F 职工未就业配偶标识 an 01: "0" 否
        ),
        Maternity(region="410100", spouse_flag="0"),
    ),
)

InjuryDetermination.VECTORS = (
    # EF17: the injury of 2022, recognised as 1 工伤 (table 38)
    (
        _hex(
            "3B14",  # 3B 工伤认定编号 an 14: "郑人社工认2022-1024", 19 + 1 bytes
            "D6A3C8CBC9E7B9A4C8CF323032322D3130323400",
            "3C46",  # 3C 用人单位名称 an 46: "郑州市中原区建筑工程有限公司", 28 + 42 bytes
            "D6A3D6DDCAD0D6D0D4ADC7F8BDA8D6FEB9A4B3CCD3D0CFDEB9ABCBBE" + "00" * 42,
            "3D0131",  # 3D 工伤认定结论 an 01: "1" 工伤
            "3E0420221103",  # 3E 工伤认定日期: 2022-11-03
            "3F3C",  # 3F 工伤认定部门名称 an 3C: "郑州市人力资源和社会保障局", 26 + 34 bytes
            "D6A3D6DDCAD0C8CBC1A6D7CAD4B4BACDC9E7BBE1B1A3D5CFBED6" + "00" * 34,
        ),
        InjuryDetermination(
            determination_number="郑人社工认2022-1024",
            employer="郑州市中原区建筑工程有限公司",
            conclusion="1",
            determination_date=datetime.date(2022, 11, 3),
            authority="郑州市人力资源和社会保障局",
        ),
    ),
)

Dependants.VECTORS = (
    # EF18 of the spouse of a worker who died of a work injury
    (
        _hex(
            "7403343130",  # 74 供养险种类型 an 03: "410" 工伤保险 (table 39)
            "7503410100",  # 75 参保地所属行政区划代码 cn 03: 410100
            "76011F",  # 76 供养关系 cn 01: 1 配偶 (table 40, GB/T 4761), F-padded
            "770420221101",  # 77 供养待遇享受开始日期: 2022-11-01
            "780420240115",  # 78 供养亲属信息更新日期: 2024-01-15
        ),
        Dependants(
            scheme="410",
            region="410100",
            relation="1",
            benefit_date=datetime.date(2022, 11, 1),
            updated=datetime.date(2024, 1, 15),
        ),
    ),
)

_NO_PROOF = (
    "7927",  # 79 参保凭证信息, its items empty:
    "1803000000",  # 18 险种类型 an 03: 00-padded
    "1903FFFFFF",  # 19 参保地所属行政区划代码 cn 03: F-padded
    "1A04FFFFFFFF",  # 1A 本地参保起始日期: none
    "1B04FFFFFFFF",  # 1B 本地参保终止日期: none
    "1C04FFFFFFFF",  # 1C 本地个人实际缴费金额 cn 04: F-padded
    "1D03000000",  # 1D 本地实际缴费月数 an 03
    "1E04FFFFFFFF",  # 1E 凭证出具日期: none
)

InsuranceCertificates.VECTORS = (
    # EF19, a file of four fixed-length records (table 6), each one 79 B-TLV of 27 bytes
    # (table 9: 1 养老, 2 医疗, 3 失业, 4 预留): 18 (2+3) 19 (2+3) 1A 1B 1C (2+4 each)
    # 1D (2+3) 1E (2+4) = 5+5+6+6+6+5+6. Here 186 months paid in Zhengzhou, 2008-07 to
    # 2023-12, certified on leaving; the reserved record holds empty items
    (
        _hex(
            "7927",  # 79 养老保险参保凭证信息
            "1803313130",  # 18 险种类型 an 03: "110" 城镇企业职工基本养老保险 (table 41)
            "1903410100",  # 19 参保地所属行政区划代码 cn 03: 410100
            "1A0420080701",  # 1A 本地参保起始日期: 2008-07-01
            "1B0420231231",  # 1B 本地参保终止日期: 2023-12-31
            "1C045953276F",  # 1C 本地个人实际缴费金额 cn 04 in 分 (§8.4.8.5): 59532.76 元
            "1D03313836",  # 1D 本地实际缴费月数 an 03: "186"
            "1E0420240115",  # 1E 凭证出具日期: 2024-01-15
            "7927",  # 79 医疗保险参保凭证信息
            "1803333130",  # 18: "310" 职工基本医疗保险
            "1903410100",  # 19: 410100
            "1A0420080701",  # 1A: 2008-07-01
            "1B0420231231",  # 1B: 2023-12-31
            "1C041488319F",  # 1C: 14883.19 元
            "1D03313836",  # 1D: "186"
            "1E0420240115",  # 1E: 2024-01-15
            "7927",  # 79 失业保险参保凭证信息
            "1803323130",  # 18: "210" 失业保险
            "1903410100",  # 19: 410100
            "1A0420080701",  # 1A: 2008-07-01
            "1B0420231231",  # 1B: 2023-12-31
            "1C04360527FF",  # 1C: 3605.27 元
            "1D03313836",  # 1D: "186"
            "1E0420240115",  # 1E: 2024-01-15
            *_NO_PROOF,  # 79 预留参保凭证信息
        ),
        InsuranceCertificates(
            certificates=(
                InsuranceProof(
                    scheme="110",
                    region="410100",
                    start_date=datetime.date(2008, 7, 1),
                    end_date=datetime.date(2023, 12, 31),
                    paid_amount="5953276",
                    paid_months="186",
                    issue_date=datetime.date(2024, 1, 15),
                ),
                InsuranceProof(
                    scheme="310",
                    region="410100",
                    start_date=datetime.date(2008, 7, 1),
                    end_date=datetime.date(2023, 12, 31),
                    paid_amount="1488319",
                    paid_months="186",
                    issue_date=datetime.date(2024, 1, 15),
                ),
                InsuranceProof(
                    scheme="210",
                    region="410100",
                    start_date=datetime.date(2008, 7, 1),
                    end_date=datetime.date(2023, 12, 31),
                    paid_amount="360527",
                    paid_months="186",
                    issue_date=datetime.date(2024, 1, 15),
                ),
                InsuranceProof(),
            )
        ),
    ),
    # EF19 with only its second (medical) record filled and the cover still running
    # (1B none): a resident of 巩义市 insured since 2019, certified 2024-02-20
    (
        _hex(
            *_NO_PROOF,  # 79 养老保险参保凭证信息
            "7927",  # 79 医疗保险参保凭证信息
            "1803333930",  # 18: "390" 城乡居民基本医疗保险 (table 41)
            "1903410181",  # 19: 410181 巩义市
            "1A0420190101",  # 1A 本地参保起始日期: 2019-01-01
            "1B04FFFFFFFF",  # 1B 本地参保终止日期: none, still insured
            "1C04156000FF",  # 1C 本地个人实际缴费金额: 1560.00 元
            "1D03303632",  # 1D 本地实际缴费月数: "062"
            "1E0420240220",  # 1E 凭证出具日期: 2024-02-20
            *_NO_PROOF,  # 79 失业保险参保凭证信息
            *_NO_PROOF,  # 79 预留参保凭证信息
        ),
        InsuranceCertificates(
            certificates=(
                InsuranceProof(),
                InsuranceProof(
                    scheme="390",
                    region="410181",
                    start_date=datetime.date(2019, 1, 1),
                    end_date=None,
                    paid_amount="156000",
                    paid_months="062",
                    issue_date=datetime.date(2024, 2, 20),
                ),
                InsuranceProof(),
                InsuranceProof(),
            )
        ),
    ),
)
