"""VECTORS of the DF02 employment data area (S2 table 5).

Codes: 专业技术职务 GB/T 8561, 职务级别 S2 table 22, 职业 《职业分类大典》 (7 digits,
X-XX-XX-XX), 工人技术等级 GB/T 14946 A.13, 专业技术人员资格 S2 table 23, 就业登记
S2 tables 24–25, 失业登记 tables 26–28, 就业援助 table 29, 扶持政策 table 30, regions
GB/T 2260 (410102 中原区, 410103 二七区, 410105 金水区, all of 郑州市).
"""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import (
    ABSENT,
    EmploymentAid,
    EmploymentAidFile,
    EmploymentHistory,
    EmploymentRecord,
    EmploymentStatus,
    ProfessionalQualification,
    RegistrationCertificate,
    Skills,
    SupportBenefit,
    SupportBenefits,
    WorkerQualification,
)


def _hex(*parts: str) -> bytes:
    """The bytes of hex ``parts`` written item by item (spaces between bytes allowed)."""
    return bytes.fromhex("".join(parts))


Skills.VECTORS = (
    # an engineer holding two worker qualifications (43:1, 43:2) and two professional
    # ones (44:1, 44:2), each B-TLV member at its table 9 length, an 00-padded
    (
        _hex(
            "42 03 303633",  # 专业技术职务代码 "063" 工程师
            "41 03 343230",  # 专业技术职务级别 "420" 中级
            "43 6C",  # 职业资格（工人技术等级）信息 1
            "5A 07 36303730363035",  # 名称代码 "6070605" 维修电工 (6-07-06-05)
            "5B 01 33",  # 等级 "3" 三级（高级）
            "5C 46 BAD3C4CFCAA1D6B0D2B5BCBCC4DCBCF8B6A8D6B8B5BCD6D0D0C4",  # 发证机构名称:
            "00" * 44,  # 河南省职业技能鉴定指导中心, 26 GBK bytes
            "5D 04 20130618",  # 发证/年检日期 2013-06-18
            "5E 10 31333431303030303030333030343531",  # 证书编号 "1341000000300451"
            "43 6C",  # 职业资格（工人技术等级）信息 2
            "5A 07 36303430313031",  # "6040101" 车工 (6-04-01-01)
            "5B 01 34",  # "4" 四级（中级）
            "5C 46 D6A3D6DDCAD0D6B0D2B5BCBCC4DCBCF8B6A8D6D0D0C4",  # 郑州市职业技能鉴定中心,
            "00" * 48,  # 22 GBK bytes
            "5D 04 20090925",  # 2009-09-25
            "5E 10 30393431303030303030343030323137",  # "0941000000400217"
            "44 65",  # 职业资格（专业技术人员）信息 1
            "33 03 333231",  # 名称代码 "321" 一级建造师
            "34 46 D6D0BBAAC8CBC3F1B9B2BACDB9FAD7A1B7BFBACDB3C7CFE7BDA8C9E8B2BF",  # 注册登记机构:
            "00" * 40,  # 中华人民共和国住房和城乡建设部, 30 GBK bytes
            "35 04 20160412",  # 注册登记/年检日期 2016-04-12
            "36 10 D4A5313431313031323132333435 0000",  # 证书编号 "豫141101212345"
            "44 65",  # 职业资格（专业技术人员）信息 2
            "33 03 333030",  # "300" 注册安全工程师
            "34 46 BAD3C4CFCAA1B0B2C8ABC9FAB2FABCE0B6BDB9DCC0EDBED6",  # 河南省安全生产监督管理局,
            "00" * 46,  # 24 GBK bytes
            "35 04 20171120",  # 2017-11-20
            "36 10 34313030303032303137303030313233",  # "4100002017000123", all 16 bytes
        ),
        Skills(
            title_code="063",
            title_level="420",
            worker_qualifications=(
                WorkerQualification(
                    name_code="6070605",
                    grade="3",
                    issuer="河南省职业技能鉴定指导中心",
                    issue_date=datetime.date(2013, 6, 18),
                    certificate="1341000000300451",
                ),
                WorkerQualification(
                    name_code="6040101",
                    grade="4",
                    issuer="郑州市职业技能鉴定中心",
                    issue_date=datetime.date(2009, 9, 25),
                    certificate="0941000000400217",
                ),
            ),
            professional_qualifications=(
                ProfessionalQualification(
                    name_code="321",
                    authority="中华人民共和国住房和城乡建设部",
                    registration_date=datetime.date(2016, 4, 12),
                    certificate="豫141101212345",
                ),
                ProfessionalQualification(
                    name_code="300",
                    authority="河南省安全生产监督管理局",
                    registration_date=datetime.date(2017, 11, 20),
                    certificate="4100002017000123",
                ),
            ),
        ),
    ),
    # a cook with no professional title and one worker qualification: the unused
    # occurrences keep their records (an 00, dates FFFFFFFF); after them a record the
    # issuer added (tag E1, allowed by S2 §6), kept byte for byte
    (
        _hex(
            "42 03 000000",  # 专业技术职务代码: none
            "41 03 000000",  # 专业技术职务级别: none
            "43 6C",  # 职业资格（工人技术等级）信息 1
            "5A 07 34303330323031",  # "4030201" 中式烹调师 (4-03-02-01)
            "5B 01 34",  # "4" 四级（中级）
            "5C 46 D6A3D6DDCAD0D6B0D2B5BCBCC4DCBCF8B6A8D6D0D0C4",  # 郑州市职业技能鉴定中心,
            "00" * 48,  # 22 GBK bytes
            "5D 04 20180705",  # 2018-07-05
            "5E 10 31383431303030303030343030333838",  # "1841000000400388"
            "43 6C",  # 职业资格（工人技术等级）信息 2: unused
            "5A 07",
            "00" * 7,
            "5B 01 00",
            "5C 46",
            "00" * 0x46,
            "5D 04 FFFFFFFF",  # no date
            "5E 10",
            "00" * 0x10,
            "44 65",  # 职业资格（专业技术人员）信息 1: unused
            "33 03 000000",
            "34 46",
            "00" * 0x46,
            "35 04 FFFFFFFF",
            "36 10",
            "00" * 0x10,
            "44 65",  # 职业资格（专业技术人员）信息 2: unused
            "33 03 000000",
            "34 46",
            "00" * 0x46,
            "35 04 FFFFFFFF",
            "36 10",
            "00" * 0x10,
            "E1 12 BCBCC4DCCCE1C9FDB2B9CCF9D2D1C9EAC1EC",  # the issuer's: 技能提升补贴已申领
        ),
        Skills(
            title_code="",
            title_level="",
            worker_qualifications=(
                WorkerQualification(
                    name_code="4030201",
                    grade="4",
                    issuer="郑州市职业技能鉴定中心",
                    issue_date=datetime.date(2018, 7, 5),
                    certificate="1841000000400388",
                ),
                WorkerQualification(
                    name_code="", grade="", issuer="", issue_date=None, certificate=""
                ),
            ),
            professional_qualifications=(
                ProfessionalQualification(
                    name_code="", authority="", registration_date=None, certificate=""
                ),
                ProfessionalQualification(
                    name_code="", authority="", registration_date=None, certificate=""
                ),
            ),
            extra=((0xE1, "技能提升补贴已申领".encode("gbk")),),
        ),
    ),
)

# 60 最近一次办理失业登记日期 is declared here and in DF03 EF05, and a card keeps it in
# exactly one of the two (S2 §7, after table 9): the first two cards keep it here (their
# DF03 EF05 holds no 60), the third in DF03 EF05, so its EF06 has no 60 record.
EmploymentStatus.VECTORS = (
    # a physician in employment: 10 实现就业 in the form 010 单位就业; never registered
    # unemployed, so 60 has no date and 4F, 50 are empty
    (
        _hex(
            "4C 04 20190701",  # 最近一次办理就业登记日期 2019-07-01
            "4B 05 3130303130",  # 就业登记类型及形式 "10010"
            "4D 03 410105",  # 就业登记地行政区划代码 410105
            "60 04 FFFFFFFF",  # 最近一次办理失业登记日期: none
            "4F 06 000000000000",  # 失业登记类型、原因及注销原因: none
            "50 03 FFFFFF",  # 失业登记地行政区划代码: none
            "3A 07 32303530313031",  # 现从事职业 "2050101" 内科医师 (2-05-01-01)
        ),
        EmploymentStatus(
            employment_date=datetime.date(2019, 7, 1),
            employment_type="10010",
            employment_region="410105",
            unemployment_date=None,
            unemployment_type="",
            unemployment_region="",
            occupation="2050101",
        ),
    ),
    # a lathe worker whose employment ended (20 终止就业, last form 010) and who then
    # registered unemployed: 10 失业登记, reason 20 与企业解除或终止劳动关系, closure 00
    # (not closed); no current occupation
    (
        _hex(
            "4C 04 20150301",  # 最近一次办理就业登记日期 2015-03-01
            "4B 05 3230303130",  # 就业登记类型及形式 "20010"
            "4D 03 410102",  # 就业登记地行政区划代码 410102
            "60 04 20230615",  # 最近一次办理失业登记日期 2023-06-15
            "4F 06 313032303030",  # 失业登记类型、原因及注销原因 "102000"
            "50 03 410102",  # 失业登记地行政区划代码 410102
            "3A 07 00000000000000",  # 现从事职业: none
        ),
        EmploymentStatus(
            employment_date=datetime.date(2015, 3, 1),
            employment_type="20010",
            employment_region="410102",
            unemployment_date=datetime.date(2023, 6, 15),
            unemployment_type="102000",
            unemployment_region="410102",
            occupation="",
        ),
    ),
    # a card that keeps 60 in DF03 EF05, so EF06 has no 60 record: a clerk who left a
    # public institution (reason 30), registered unemployed, and closed the registration
    # (20 注销失业登记, closure 60 已从事有稳定收入工作) on finding flexible work (10, 022)
    (
        _hex(
            "4C 04 20221101",  # 最近一次办理就业登记日期 2022-11-01
            "4B 05 3130303232",  # 就业登记类型及形式 "10022"
            "4D 03 410103",  # 就业登记地行政区划代码 410103
            "4F 06 323033303630",  # 失业登记类型、原因及注销原因 "203060"
            "50 03 410103",  # 失业登记地行政区划代码 410103
            "3A 07 00000000000000",  # 现从事职业: none
        ),
        EmploymentStatus(
            employment_date=datetime.date(2022, 11, 1),
            employment_type="10022",
            employment_region="410103",
            unemployment_date=ABSENT,
            unemployment_type="203060",
            unemployment_region="410103",
        ),
    ),
)

EmploymentHistory.VECTORS = (
    # a physician's three earlier posts, newest (record #1) first, 0x55 bytes a record:
    # 从事职业 an 07, 就业起始日期 cn 04, 就业终止日期 cn 04, 就业工作单位名称 an 46
    (
        _hex(
            "32303530313031",  # "2050101" 内科医师 (2-05-01-01)
            "20150801 20190630",  # 2015-08-01 to 2019-06-30
            "D6A3D6DDB4F3D1A7B5DAD2BBB8BDCAF4D2BDD4BA",  # 郑州大学第一附属医院,
            "00" * 50,  # 20 GBK bytes
            "32303530313031",  # "2050101"
            "20120901 20150731",  # 2012-09-01 to 2015-07-31
            "D6A3D6DDCAD0B5DAD2BBC8CBC3F1D2BDD4BA",  # 郑州市第一人民医院,
            "00" * 52,  # 18 GBK bytes
            "32303530313031",  # "2050101"
            "20100701 20120831",  # 2010-07-01 to 2012-08-31
            "BAD3C4CFCAA1C8CBC3F1D2BDD4BA",  # 河南省人民医院,
            "00" * 56,  # 14 GBK bytes
        ),
        EmploymentHistory(
            records=(
                EmploymentRecord(
                    occupation="2050101",
                    start_date=datetime.date(2015, 8, 1),
                    end_date=datetime.date(2019, 6, 30),
                    employer="郑州大学第一附属医院",
                ),
                EmploymentRecord(
                    occupation="2050101",
                    start_date=datetime.date(2012, 9, 1),
                    end_date=datetime.date(2015, 7, 31),
                    employer="郑州市第一人民医院",
                ),
                EmploymentRecord(
                    occupation="2050101",
                    start_date=datetime.date(2010, 7, 1),
                    end_date=datetime.date(2012, 8, 31),
                    employer="河南省人民医院",
                ),
            )
        ),
    ),
)

RegistrationCertificate.VECTORS = (
    # a 就业失业登记证 issued in 金水区; its number is an 10 in table 9 (16 characters)
    (
        _hex(
            "55 10 34313031303532303231303030333637",  # 登记证编号 "4101052021000367"
            "56 46 D6A3D6DDCAD0BDF0CBAEC7F8B9ABB9B2BECDD2B5B7FECEF1D6D0D0C4",  # 发证机构:
            "00" * 42,  # 郑州市金水区公共就业服务中心, 28 GBK bytes
            "96 04 20210310",  # 发证/年检日期 2021-03-10
            "97 03 410105",  # 发证地行政区划代码 410105
        ),
        RegistrationCertificate(
            certificate="4101052021000367",
            issuer="郑州市金水区公共就业服务中心",
            issue_date=datetime.date(2021, 3, 10),
            region="410105",
        ),
    ),
)

RegistrationCertificate.V1_VECTORS = (
    # the same certificate rewritten on a 1.00 card (S2 appendix C): 55 (was 外来人员就业证
    # 编号 cn 0A) takes the number as appendix C's cn 08, E-padded; 56 and 96 change
    # definition only and are rewritten with 55; 97 (was 就业证有效期 cn 04) takes the
    # region cn 03, E-padded
    (
        _hex(
            "55 0A 4101052021000367 EEEE",  # 登记证编号 cn 08: 4101052021000367, E-padded
            "56 46 D6A3D6DDCAD0BDF0CBAEC7F8B9ABB9B2BECDD2B5B7FECEF1D6D0D0C4",  # 发证机构:
            "00" * 42,  # 郑州市金水区公共就业服务中心, 28 GBK bytes
            "96 04 20210310",  # 发证/年检日期 2021-03-10
            "97 04 410105 EE",  # 发证地行政区划代码 cn 03: 410105, E-padded
        ),
        RegistrationCertificate(
            certificate="4101052021000367",
            issuer="郑州市金水区公共就业服务中心",
            issue_date=datetime.date(2021, 3, 10),
            region="410105",
        ),
    ),
)

EmploymentAidFile.VECTORS = (
    # recognised twice (99:1, 99:2), 99:3 and 99:4 unused (an 00, cn and dates F), not
    # yet out of the programme (0F no date, 1F empty)
    (
        _hex(
            "99 10",  # 就业援助对象认定信息 1
            "10 03 303530",  # 认定为就业援助对象类型 "050" 大龄就业困难人员
            "11 04 20200512",  # 就业援助认定日期 2020-05-12
            "12 03 410102",  # 就业援助认定地行政区划代码 410102
            "99 10",  # 就业援助对象认定信息 2
            "10 03 303430",  # "040" 享受低保的长期失业人员
            "11 04 20210108",  # 2021-01-08
            "12 03 410102",  # 410102
            "99 10 1003000000 1104FFFFFFFF 1203FFFFFF",  # 就业援助对象认定信息 3: unused
            "99 10 1003000000 1104FFFFFFFF 1203FFFFFF",  # 就业援助对象认定信息 4: unused
            "0F 04 FFFFFFFF",  # 退出就业援助对象范围的认定日期: none
            "1F 03 FFFFFF",  # 退出就业援助对象范围的认定地行政区划代码: none
        ),
        EmploymentAidFile(
            aid=(
                EmploymentAid(
                    aid_type="050", aid_date=datetime.date(2020, 5, 12), aid_region="410102"
                ),
                EmploymentAid(
                    aid_type="040", aid_date=datetime.date(2021, 1, 8), aid_region="410102"
                ),
                EmploymentAid(aid_type="", aid_date=None, aid_region=""),
                EmploymentAid(aid_type="", aid_date=None, aid_region=""),
            ),
            exit_date=None,
            exit_region="",
        ),
    ),
    # all four occurrences used, all in 二七区, then out of the programme
    (
        _hex(
            "99 10 1003303130 110420090305 1203410103",  # "010" 国企下岗失业人员, 2009-03-05
            "99 10 1003303430 110420100420 1203410103",  # "040" 享受低保的长期失业人员
            "99 10 1003303530 110420160811 1203410103",  # "050" 大龄就业困难人员
            "99 10 1003303730 110420170302 1203410103",  # "070" 零就业家庭成员
            "0F 04 20190916",  # 退出就业援助对象范围的认定日期 2019-09-16
            "1F 03 410103",  # 退出就业援助对象范围的认定地行政区划代码 410103
        ),
        EmploymentAidFile(
            aid=(
                EmploymentAid(
                    aid_type="010", aid_date=datetime.date(2009, 3, 5), aid_region="410103"
                ),
                EmploymentAid(
                    aid_type="040", aid_date=datetime.date(2010, 4, 20), aid_region="410103"
                ),
                EmploymentAid(
                    aid_type="050", aid_date=datetime.date(2016, 8, 11), aid_region="410103"
                ),
                EmploymentAid(
                    aid_type="070", aid_date=datetime.date(2017, 3, 2), aid_region="410103"
                ),
            ),
            exit_date=datetime.date(2019, 9, 16),
            exit_region="410103",
        ),
    ),
)

SupportBenefits.VECTORS = (
    # three policies, newest (record #1) first, 0x12 bytes a record: 类型 an 03, 核准日期,
    # 开始日期, 终止日期 cn 04, 享受地行政区划代码 cn 03; the training subsidy has no
    # period, so its start and end are not recorded (S2 §8.3.6.3–4: FFFFFFFF)
    (
        _hex(
            "303230 20230315 20230401 20260331 410105",  # "020" 社会保险补贴
            "303430 20221110 FFFFFFFF FFFFFFFF 410105",  # "040" 职业培训补贴
            "303830 20210520 20210601 20230531 410102",  # "080" 小额担保贷款贴息政策
        ),
        SupportBenefits(
            records=(
                SupportBenefit(
                    policy_type="020",
                    approval_date=datetime.date(2023, 3, 15),
                    start_date=datetime.date(2023, 4, 1),
                    end_date=datetime.date(2026, 3, 31),
                    region="410105",
                ),
                SupportBenefit(
                    policy_type="040",
                    approval_date=datetime.date(2022, 11, 10),
                    start_date=None,
                    end_date=None,
                    region="410105",
                ),
                SupportBenefit(
                    policy_type="080",
                    approval_date=datetime.date(2021, 5, 20),
                    start_date=datetime.date(2021, 6, 1),
                    end_date=datetime.date(2023, 5, 31),
                    region="410102",
                ),
            )
        ),
    ),
)
