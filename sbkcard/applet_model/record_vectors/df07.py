"""VECTORS of the DF07 personnel and talent data area (S2 table 8)."""

from __future__ import annotations

import datetime

from sbkcard.applet_model.records import Expert, Honours, MilitaryTransfer

Honours.VECTORS = (
    # a provincial model worker who also holds the May Day labour medal (§8.6.1)
    (
        bytes.fromhex(
            # F0 荣誉称号名称代码 an 02: "02" 劳动模范 (table 53)
            "F0023032"
            # F1 荣誉称号级别 an 01: "1" 省(自治区、直辖市)级荣誉称号 (table 54)
            "F10131"
            # F2 荣誉称号批准日期 cn 04: 2015-04-28
            "F20420150428"
            # F3 荣誉奖章名称代码 an 03: "911" 五一劳动奖章 (table 55)
            "F303393131"
            # F4 荣誉奖章批准日期 cn 04: 2012-04-28
            "F40420120428"
        ),
        Honours(
            honour_code="02",
            honour_level="1",
            honour_date=datetime.date(2015, 4, 28),
            medal_code="911",
            medal_date=datetime.date(2012, 4, 28),
        ),
    ),
    # a title and no medal: the medal code empty (00, S2 §7), its date FFFFFFFF
    (
        bytes.fromhex(
            # F0 an 02: "53" 优秀教师 (table 53)
            "F0023533"
            # F1 an 01: "5" 地(市、厅、局)级荣誉称号 (table 54)
            "F10135"
            # F2 cn 04: 2019-09-10
            "F20420190910"
            # F3 an 03: empty
            "F303000000"
            # F4 cn 04: no date
            "F404FFFFFFFF"
        ),
        Honours(
            honour_code="53",
            honour_level="5",
            honour_date=datetime.date(2019, 9, 10),
            medal_code="",
            medal_date=None,
        ),
    ),
)
Expert.VECTORS = (
    # an expert on the State Council's special allowance (§8.6.2); the body's name is
    # GBK text, 00-padded to 0x46 bytes (§8.2.5.1, S2 §7)
    (
        bytes.fromhex(
            # F5 专家类别 an 03: "140" 享受政府特殊津贴专家 (table 56)
            "F503313430"
            # F6 批准日期 cn 04: 2018-12-31
            "F60420181231"
            # F7 批准单位名称 an 46: 中华人民共和国国务院 (20 GBK bytes), then 50 bytes 00
            "F746D6D0BBAAC8CBC3F1B9B2BACDB9FAB9FACEF1D4BA"
            "0000000000000000000000000000000000000000"
            "0000000000000000000000000000000000000000"
            "00000000000000000000"
        ),
        Expert(
            expert_category="140",
            approval_date=datetime.date(2018, 12, 31),
            approving_body="中华人民共和国国务院",
        ),
    ),
    # a municipal expert: a shorter name, 56 bytes of padding
    (
        bytes.fromhex(
            # F5 an 03: "310" 地市级有突出贡献专家 (table 56)
            "F503333130"
            # F6 cn 04: 2021-06-15
            "F60420210615"
            # F7 an 46: 郑州市人民政府 (14 GBK bytes), then 56 bytes 00
            "F746D6A3D6DDCAD0C8CBC3F1D5FEB8AE"
            "0000000000000000000000000000000000000000"
            "0000000000000000000000000000000000000000"
            "00000000000000000000000000000000"
        ),
        Expert(
            expert_category="310",
            approval_date=datetime.date(2021, 6, 15),
            approving_body="郑州市人民政府",
        ),
    ),
)
MilitaryTransfer.VECTORS = (
    # an officer transferred to civilian work who chose his own job (§8.6.3)
    (
        bytes.fromhex(
            # F8 批准转业日期 cn 04: 2016-08-15
            "F80420160815"
            # F9 安置方式 an 01: "2" 自主择业 (table 57)
            "F90132"
        ),
        MilitaryTransfer(transfer_date=datetime.date(2016, 8, 15), placement="2"),
    ),
)
