"""VECTORS of the DF01 common application data area (S2 table 4)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import (
    Degree,
    Education,
    HouseholdRegistration,
    MaritalStatus,
    NationalityAndAffiliation,
    PersonalStatus,
    ReservedData,
    Residence,
    StatusAndEmployer,
)

HouseholdRegistration.VECTORS = (
    # a Zhengzhou urban hukou (S2 §8.2.1)
    (
        bytes.fromhex(
            "20023131"  # 20 户口类别 an 02: "11" 本地非农业户口(本地城镇) (S2 table 16)
            # 21 户口所在地地址 an 50: 河南省郑州市金水区经八路22号院6号楼1单元302号 (45 GBK bytes)
            "2150BAD3C4CFCAA1D6A3D6DDCAD0BDF0CBAEC7F8BEADB0CBC2B73232BAC5D4BA36BAC5C2A531B5A5D4AA"
            "333032BAC5"
            "0000000000000000000000000000000000000000000000000000000000000000000000"  # 35 × 00
            "0E03410105"  # 0E 户口所在地行政区划代码★ cn 03: 410105 金水区 (GB/T 2260)
        ),
        HouseholdRegistration(
            hukou_type="11",
            hukou_address="河南省郑州市金水区经八路22号院6号楼1单元302号",
            hukou_region="410105",
        ),
    ),
    # a rural hukou in Zhongmu county, and an item the issuer added (S2 §6 lets DF01
    # files gain items): tag E8, used nowhere in table 9, the police station as an 14
    (
        bytes.fromhex(
            "20023231"  # 20 户口类别 an 02: "21" 本地农业户口(本地农村) (S2 table 16)
            # 21 户口所在地地址 an 50: 河南省郑州市中牟县官渡镇小店村3组17号 (37 GBK bytes)
            "2150BAD3C4CFCAA1D6A3D6DDCAD0D6D0C4B2CFD8B9D9B6C9D5F2D0A1B5EAB4E533D7E93137BAC5"
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "000000"  # 43 × 00
            "0E03410122"  # 0E 户口所在地行政区划代码★ cn 03: 410122 中牟县 (GB/T 2260)
            "E814D6D0C4B2CFD8B9D9B6C9C5C9B3F6CBF900000000"  # E8 (issuer's): 中牟县官渡派出所
        ),
        HouseholdRegistration(
            hukou_type="21",
            hukou_address="河南省郑州市中牟县官渡镇小店村3组17号",
            hukou_region="410122",
            extra=((0xE8, "中牟县官渡派出所".encode("gbk") + bytes(4)),),
        ),
    ),
)

HouseholdRegistration.V1_VECTORS = (
    # a 1.00 card (LB002-2000): 户口类别 is an 01 there and S2 附表二 made it an 02
    # ("原规范“户口类别”长度由'01'变更为'02'"); appendix C has no rewriting rule for it,
    # so the card keeps its one-character code of the old table, read as it is; there is
    # no 0E (★)
    (
        bytes.fromhex(
            "200131"  # 20 户口类别 an 01 (1.00): "1"
            # 21 户口所在地地址 an 50 (1.00 "常住户口所在地地址"): as the first vector
            "2150BAD3C4CFCAA1D6A3D6DDCAD0BDF0CBAEC7F8BEADB0CBC2B73232BAC5D4BA36BAC5C2A531B5A5D4AA"
            "333032BAC5"
            "0000000000000000000000000000000000000000000000000000000000000000000000"  # 35 × 00
        ),
        HouseholdRegistration(
            hukou_type="1", hukou_address="河南省郑州市金水区经八路22号院6号楼1单元302号"
        ),
    ),
)

Residence.VECTORS = (
    # lives in Erqi district; a mobile number (S2 §8.2.2.3) and a contact with a
    # landline that carries its area code (§8.2.2.5)
    (
        bytes.fromhex(
            # 23 常住所在地地址★ an 50: 河南省郑州市二七区大学路40号院3号楼2单元601号 (45 GBK bytes)
            "2350BAD3C4CFCAA1D6A3D6DDCAD0B6FEC6DFC7F8B4F3D1A7C2B73430BAC5D4BA33BAC5C2A532B5A5D4AA"
            "363031BAC5"
            "0000000000000000000000000000000000000000000000000000000000000000000000"  # 35 × 00
            "2403410103"  # 24 常住所在地行政区划代码★ cn 03: 410103 二七区 (GB/T 2260)
            "280F313338333830313233343500000000"  # 28 联系电话 an 0F: 13838012345
            "2C32CDF5D0E3C0BC"  # 2C 联系人（监护人）姓名★ an 32: 王秀兰 (6 GBK bytes) …
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "2D0F303337312D36383831323334350000"  # 2D 联系人（监护人）电话★ an 0F: 0371-68812345
        ),
        Residence(
            residence_address="河南省郑州市二七区大学路40号院3号楼2单元601号",
            residence_region="410103",
            phone="13838012345",
            contact_name="王秀兰",
            contact_phone="0371-68812345",
        ),
    ),
    # the file as personalised before anything is known: every item present, an items
    # all 00, the cn region all F (S2 §7)
    (
        bytes.fromhex(
            "2350"  # 23 常住所在地地址★ an 50: empty, 80 × 00
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "000000000000000000000000000000000000000000000000000000000000000000000000"
            "2403FFFFFF"  # 24 常住所在地行政区划代码★ cn 03: empty
            "280F000000000000000000000000000000"  # 28 联系电话 an 0F: empty
            "2C32"  # 2C 联系人（监护人）姓名★ an 32: empty, 50 × 00
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "000000000000"
            "2D0F000000000000000000000000000000"  # 2D 联系人（监护人）电话★ an 0F: empty
        ),
        Residence(
            residence_address="",
            residence_region="",
            phone="",
            contact_name="",
            contact_phone="",
        ),
    ),
)

PersonalStatus.VECTORS = (
    (
        bytes.fromhex("290131"),  # 29 个人就业或离退休（职）状态 an 01: "1" 在业 (S2 table 17)
        PersonalStatus(employment_status="1"),
    ),
)

MaritalStatus.VECTORS = (
    (
        bytes.fromhex("2B0132"),  # 2B 婚姻状况 an 01: "2" 已婚 (S2 table 18, GB/T 2261.2)
        MaritalStatus(marital_status="2"),
    ),
)

StatusAndEmployer.VECTORS = (
    # a hospital doctor (S2 §8.2.5)
    (
        bytes.fromhex(
            # 2E 单位名称 an 46: 郑州市第一人民医院 (18 GBK bytes), then 52 × 00
            "2E46D6A3D6DDCAD0B5DAD2BBC8CBC3F1D2BDD4BA"
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "0000000000000000"
            # 30 单位组织机构代码 an 09: 41604381 and its GB 11714 check digit 3
            # (weights 3 7 9 10 5 8 4 2: 12+7+54+0+20+24+32+2 = 151, 151 mod 11 = 8, 11 − 8 = 3)
            "3009343136303433383133"
            "32023133"  # 32 人员身份类别★ an 02: "13" 专业技术人员 (S2 table 19, GB/T 2261.4)
        ),
        StatusAndEmployer(
            employer_name="郑州市第一人民医院",
            employer_code="416043813",
            person_category="13",
        ),
    ),
)

NationalityAndAffiliation.VECTORS = (
    # a Chinese citizen: nationality left empty (only foreigners fill it, S2 §8.2.6.1)
    (
        bytes.fromhex(
            "3703000000"  # 37 国籍★ an 03: empty
            "38023031"  # 38 政治面貌★ an 02: "01" 中共党员 (S2 table 20, GB/T 4762)
            "390420080701"  # 39 参加党派日期★ cn 04: 2008-07-01
        ),
        NationalityAndAffiliation(
            nationality="",
            political_status="01",
            party_date=datetime.date(2008, 7, 1),
        ),
    ),
    # a foreigner: DEU, the standard's own example (S2 §8.2.6.1, ISO 3166-1 alpha-3);
    # no political status, no date (FFFFFFFF)
    (
        bytes.fromhex(
            "3703444555"  # 37 国籍★ an 03: "DEU"
            "38020000"  # 38 政治面貌★ an 02: empty
            "3904FFFFFFFF"  # 39 参加党派日期★ cn 04: no date
        ),
        NationalityAndAffiliation(nationality="DEU", political_status="", party_date=None),
    ),
)

# 学位信息 40:1–40:3 are B-TLV ``40 34`` each holding 57 03, 58 03 and 59 28 (S2 table 9);
# the file holds all three, unused ones empty. 所学专业类别 is the GB/T 16835 major
# code (S2 §8.2.7.3), 100301 临床医学 in the 1998 undergraduate catalogue.
NationalityAndAffiliation.V1_VECTORS = (
    # the party member's EF0A rewritten on a 1.00 card (S2 appendix C): 37 (was 缴费基数)
    # stays out while the nationality is empty, 38 (was 上年工资总额) keeps its old cn 04
    # slot with the new code E-padded, and 39 (was 工资信息更新日期) is rewritten with 38
    (
        bytes.fromhex(
            # 38 政治面貌 an 02: "01" 中共党员 (GB/T 4762), E-padded to 4 bytes
            "38043031EEEE"
            # 39 参加党派日期 cn 04: 2008-07-01
            "390420080701"
        ),
        NationalityAndAffiliation(political_status="01", party_date=datetime.date(2008, 7, 1)),
    ),
)

_NO_DEGREE = (
    "4034"  # 40 学位信息 B-TLV 34, empty:
    "5703000000"  # 57 学位代码 an 03
    "5803FFFFFF"  # 58 所学专业类别 cn 03
    "5928"  # 59 毕业学校名称 an 28: 40 × 00
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
)

_BACHELOR = (
    "4034"  # 40 学位信息 B-TLV 34:
    "5703343130"  # 57 学位代码 an 03: "410" 医学学士学位 (GB/T 6864)
    "5803100301"  # 58 所学专业类别 cn 03: 100301 临床医学 (GB/T 16835)
    "5928D6A3D6DDB4F3D1A7"  # 59 毕业学校名称 an 28: 郑州大学 (8 GBK bytes) …
    "0000000000000000000000000000000000000000000000000000000000000000"  # … 32 × 00
)

Education.VECTORS = (
    # a bachelor of medicine; degrees 2 and 3 empty
    (
        bytes.fromhex(
            "2A0121"  # 2A 学历 cn 01: 21 大学本科 (S2 table 21, GB 4658)
            + _BACHELOR  # 40 学位信息 1
            + _NO_DEGREE  # 40 学位信息 2: empty
            + _NO_DEGREE  # 40 学位信息 3★: empty
        ),
        Education(
            education="21",
            degrees=(
                Degree(degree_code="410", major_category="100301", school="郑州大学"),
                Degree(degree_code="", major_category="", school=""),
                Degree(degree_code="", major_category="", school=""),
            ),
        ),
    ),
    # a doctor of medicine with all three degrees, in the order obtained
    (
        bytes.fromhex(
            "2A0111"  # 2A 学历 cn 01: 11 博士研究生 (S2 table 21, GB 4658)
            + _BACHELOR  # 40 学位信息 1
            + "4034"  # 40 学位信息 2 B-TLV 34:
            "5703333130"  # 57 学位代码 an 03: "310" 医学硕士学位 (GB/T 6864)
            "5803100301"  # 58 所学专业类别 cn 03: 100301 临床医学 (GB/T 16835)
            "5928D6D0C9BDB4F3D1A7"  # 59 毕业学校名称 an 28: 中山大学 (8 GBK bytes) …
            "0000000000000000000000000000000000000000000000000000000000000000"  # … 32 × 00
            "4034"  # 40 学位信息 3★ B-TLV 34:
            "5703323130"  # 57 学位代码 an 03: "210" 医学博士学位 (GB/T 6864)
            "5803100301"  # 58 所学专业类别 cn 03: 100301 临床医学 (GB/T 16835)
            "5928B1B1BEA9B4F3D1A7D2BDD1A7B2BF"  # 59 毕业学校名称 an 28: 北京大学医学部 (14) …
            "0000000000000000000000000000000000000000000000000000"  # … 26 × 00
        ),
        Education(
            education="11",
            degrees=(
                Degree(degree_code="410", major_category="100301", school="郑州大学"),
                Degree(degree_code="310", major_category="100301", school="中山大学"),
                Degree(degree_code="210", major_category="100301", school="北京大学医学部"),
            ),
        ),
    ),
)

ReservedData.VECTORS = (
    # EF16–EF1A are 预留 files: 0x128 bytes whose content the standard leaves undefined
    # (S2 table 4, table 9); an unused one reads as written at personalisation, all 00
    (bytes(0x128), ReservedData(data=bytes(0x128))),
)
