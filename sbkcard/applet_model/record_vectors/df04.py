"""VECTORS of the DF04 social insurance data area 2 (S2 table 7)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import (
    MedicalInsurance,
    OfflineSettlement,
    SpecialSettlement,
    SpecialSettlements,
    TransactionLog,
    TransactionRecord,
)

MedicalInsurance.VECTORS = (
    # an employee insured in Zhengzhou, card used online: every record of S2 table 7 in
    # table 9's order, empty items 00-padded (S2 §7); hospital codes are GB 11714
    # organisation codes (§8.5.1.8–§8.5.1.10: eight digits and a check character)
    (
        bytes.fromhex(
            # 81 医疗保险险种类型及标识 an 08 "31001000": 310 职工基本医疗保险 (table 42),
            # 异地 0, 门诊统筹 1, 门诊大病 0, 医疗救助 0, 优抚 0 (tables 43–47)
            "81083331303031303030"
            # 84 医疗保险参保地所属行政区划代码 cn 03: 410100 郑州市 (GB/T 2260)
            "8403410100"
            # 87 健康档案编号 an 11: "41010200100100123" (§8.5.1.3)
            "87113431303130323030313030313030313233"
            # 8C 医疗保险参保人员类别 cn 01: 11 在职 (table 48)
            "8C0111"
            # 80 基本医疗保险个人账户建立日期 cn 04: 2015-07-01
            "800420150701"
            # 8B 基本医疗保险个人账号 an 1D: "4101000012345678", then 13 bytes 00
            "8B1D34313031303030303132333435363738"
            "00000000000000000000000000"
            # 8A 医疗证号 an 0F: "ZZ2015000123", then 3 bytes 00
            "8A0F5A5A32303135303030313233000000"
            # 83 / 86 / 89 定点医疗机构代码 1–3 an 09: 416001373, 416001840, 416002595
            "8309343136303031333733"
            "8609343136303031383430"
            "8909343136303032353935"
            # 7D 工伤协议医疗机构代码 1 an 09: 416012558; 7E, 7F (2, 3) empty
            "7D09343136303132353538"
            "7E09000000000000000000"
            "7F09000000000000000000"
            # 8D 生育定点医疗机构代码 1 an 09: 416018706; 8E (2) empty
            "8D09343136303138373036"
            "8E09000000000000000000"
            # 8F 医疗保险用卡方式 an 01: "1" 联网处理方式 (table 49)
            "8F0131"
        ),
        MedicalInsurance(
            scheme="31001000",
            region="410100",
            health_record="41010200100100123",
            category="11",
            account_date=datetime.date(2015, 7, 1),
            account_number="4101000012345678",
            certificate="ZZ2015000123",
            hospital1="416001373",
            hospital2="416001840",
            hospital3="416002595",
            injury_hospital1="416012558",
            injury_hospital2="",
            injury_hospital3="",
            maternity_hospital1="416018706",
            maternity_hospital2="",
            card_usage="1",
        ),
    ),
    # a resident insured without a personal account (no date: FFFFFFFF, no account number),
    # card used offline, and a record of the issuer's own under tag D0, which neither
    # table 9 nor appendix B uses (S2 §6 lets DF04 EF05 grow): kept in ``extra``, written
    # back after the declared records
    (
        bytes.fromhex(
            # 81 an 08 "39101110": 391 城镇居民基本医疗保险 (table 42), 异地 0, 门诊统筹 1,
            # 门诊大病 1, 医疗救助 1, 优抚 0 (tables 43–47)
            "81083339313031313130"
            # 84 cn 03: 410105 郑州市金水区 (GB/T 2260)
            "8403410105"
            # 87 an 11: "41010500300200456"
            "87113431303130353030333030323030343536"
            # 8C cn 01: 91 其他人员 (table 48)
            "8C0191"
            # 80 cn 04: no personal account, no date
            "8004FFFFFFFF"
            # 8B an 1D: empty, 29 bytes 00
            "8B1D0000000000000000000000000000000000000000000000000000000000"
            # 8A an 0F: empty, 15 bytes 00
            "8A0F000000000000000000000000000000"
            # 83 定点医疗机构代码 1 an 09: 41600526X (check character X); 86, 89 empty
            "8309343136303035323658"
            "8609000000000000000000"
            "8909000000000000000000"
            # 7D, 7E, 7F 工伤协议医疗机构代码 and 8D, 8E 生育定点医疗机构代码: empty
            "7D09000000000000000000"
            "7E09000000000000000000"
            "7F09000000000000000000"
            "8D09000000000000000000"
            "8E09000000000000000000"
            # 8F an 01: "2" 脱网处理方式 (table 49)
            "8F0132"
            # D0, the issuer's own: a local chronic-disease code, an "M03"
            "D0034D3033"
        ),
        MedicalInsurance(
            scheme="39101110",
            region="410105",
            health_record="41010500300200456",
            category="91",
            account_date=None,
            account_number="",
            certificate="",
            hospital1="41600526X",
            hospital2="",
            hospital3="",
            injury_hospital1="",
            injury_hospital2="",
            injury_hospital3="",
            maternity_hospital1="",
            maternity_hospital2="",
            card_usage="2",
            extra=((0xD0, b"M03"),),
        ),
    ),
)
_OFFLINE = OfflineSettlement(offline_allowed="1", offline_total="00012350", offline_count="03")
"""Offline settlement allowed, three settlements since the last online one, 123.50 元."""

OfflineSettlement.VECTORS = (
    # offline settlement allowed, three settlements since the last online one, 123.50 元
    # in all (§8.5.2)
    (
        bytes.fromhex(
            # 90 准许脱网医保结算标识 an 01: "1" 是 (table 50)
            "900131"
            # 92 脱网医保结算累计金额 cn 04: 00012350 分 (§8.4.8.5: in fen)
            "920400012350"
            # 93 脱网医保结算累计次数 an 02: "03"
            "93023033"
        ),
        _OFFLINE,
    ),
    # not allowed, nothing accumulated yet: an empty cn item is all F, an empty an item
    # all 00 (S2 §7)
    (
        bytes.fromhex(
            # 90 an 01: "0" 否 (table 50)
            "900130"
            # 92 cn 04: empty
            "9204FFFFFFFF"
            # 93 an 02: empty
            "93020000"
        ),
        OfflineSettlement(offline_allowed="0", offline_total="", offline_count=""),
    ),
)
OfflineSettlement.V1_VECTORS = (
    # the first vector on a 1.00 card (S2 appendix C): 90 and 93 keep their old cn 04
    # slots (个人账户余额, 统筹基金支付累计金额), the new values E-padded; 92 changes
    # definition only and is rewritten with 90, which tells its meaning
    (
        bytes.fromhex(
            # 90 准许脱网医保结算标识 an 01: "1", E-padded to 4 bytes
            "900431EEEEEE"
            # 92 脱网医保结算累计金额 cn 04: 00012350 分 (was 年度个人自付累计金额)
            "920400012350"
            # 93 脱网医保结算累计次数 an 02: "03", E-padded to 4 bytes
            "93043033EEEE"
        ),
        _OFFLINE,
    ),
)
TransactionLog.VECTORS = (
    # newest first: a purchase (type 2) of 25.00 元, 3.00 self-paid, 12.00 pooled, after a
    # load (type 1) of 100.00 元, as the purse writes them (S2 table 7: 0x1C-byte records)
    (
        bytes.fromhex(
            "00003241010000000120240305101500000009C40000012C000004B0"
            "00003141010000000120240301093000000027100000000000000000"
        ),
        TransactionLog(
            records=(
                TransactionRecord(
                    0, "2", "410100000001", datetime.datetime(2024, 3, 5, 10, 15), 2500, 300, 1200
                ),
                TransactionRecord(
                    0, "1", "410100000001", datetime.datetime(2024, 3, 1, 9, 30), 10000, 0, 0
                ),
            )
        ),
    ),
    # three records with their sequence numbers (§8.5.3.1, b 02 big-endian) and amounts
    # above 16 bits (b 04, in fen): a hospital stay, the monthly account transfer before
    # it, a pharmacy purchase; terminal numbers start with their region code (§8.5.3.3)
    (
        bytes.fromhex(
            # 交易序号 0013; 交易类型 "2" 医疗结算 (table 51); 终端机编号 410100000107;
            # 交易时间 2024-11-20 16:42:05; 个人账户 158.30, 个人自付 2345.60, 统筹 18765.43 元
            "0013 32 410100000107 20241120164205 00003DD6 00039440 001CA23F"
            # 0012; "1" 账户划入; 410100000001 (the centre); 2024-11-01 00:30:00; 456.00 元
            "0012 31 410100000001 20241101003000 0000B220 00000000 00000000"
            # 0011; "2"; 410102000233 (a pharmacy in 中原区); 2024-10-28 09:05:47; 36.50 元
            # from the account, all of it self-paid (§8.5.3.6), nothing pooled
            "0011 32 410102000233 20241028090547 00000E42 00000E42 00000000"
        ),
        TransactionLog(
            records=(
                TransactionRecord(
                    seq=0x13,
                    kind="2",
                    terminal="410100000107",
                    time=datetime.datetime(2024, 11, 20, 16, 42, 5),
                    account=15830,
                    self_paid=234560,
                    pooled=1876543,
                ),
                TransactionRecord(
                    seq=0x12,
                    kind="1",
                    terminal="410100000001",
                    time=datetime.datetime(2024, 11, 1, 0, 30),
                    account=45600,
                    self_paid=0,
                    pooled=0,
                ),
                TransactionRecord(
                    seq=0x11,
                    kind="2",
                    terminal="410102000233",
                    time=datetime.datetime(2024, 10, 28, 9, 5, 47),
                    account=3650,
                    self_paid=3650,
                    pooled=0,
                ),
            )
        ),
    ),
)
SpecialSettlements.VECTORS = (
    # newest first, one record of each type of table 52; each 交易序号 is the one of the
    # settlement in EF08 (§8.5.4.1): 0013 is the hospital stay of the second EF08 vector
    (
        bytes.fromhex(
            # 交易序号 0013, 结算类别 "1" 工伤医疗
            "001331"
            # 000C, "2" 生育医疗
            "000C32"
            # 0007, "3" 医疗救助
            "000733"
            # 0002, "9" 其他
            "000239"
        ),
        SpecialSettlements(
            records=(
                SpecialSettlement(seq=0x13, settlement="1"),
                SpecialSettlement(seq=0x0C, settlement="2"),
                SpecialSettlement(seq=0x07, settlement="3"),
                SpecialSettlement(seq=0x02, settlement="9"),
            )
        ),
    ),
)
