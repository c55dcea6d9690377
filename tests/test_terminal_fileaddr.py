"""File addresses of the national interface (S3 §2.1.2, §3.1.2): parse, values, output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbkcard.terminal.errors import InvalidInputError
from sbkcard.terminal.operations import fileaddr
from sbkcard.terminal.operations.fileaddr import FileRequest, ItemRef


def test_the_standards_examples() -> None:
    # S3 §2.1.2: 读出国家/地区代码、学历、学位信息 2
    requests = fileaddr.parse("DF01EF0A|37|$DF01EF15|2A|40:2|$")
    assert requests == [
        FileRequest("DF01", 0x0A, (ItemRef("37", 0x37),)),
        FileRequest("DF01", 0x15, (ItemRef("2A", 0x2A), ItemRef("40:2", 0x40, 2))),
    ]
    assert [r.name for r in requests] == ["DF01EF0A", "DF01EF15"]
    # S3 §2.1.2 output: DF01EF0A|CHN|$
    assert fileaddr.format_values([(requests[0], ["CHN"])]) == "DF01EF0A|CHN|$"


def test_ssse_and_lower_case() -> None:
    (request,) = fileaddr.parse("ssseef05|01|07|$")
    assert request == FileRequest("SSSE", 0x05, (ItemRef("01", 1), ItemRef("07", 7)))


def test_a_file_with_no_items() -> None:
    (request,) = fileaddr.parse("DF04EF08|$")
    assert request.items == ()
    cyclic = [fileaddr.format_record(["1", "2"]), fileaddr.format_record(["3", "4"])]
    assert fileaddr.format_values([(request, cyclic)]) == "DF04EF08|1^2^|3^4^|$"


def test_record_numbers_in_cyclic_files_are_decimal() -> None:
    (request,) = fileaddr.parse("DF04EF08|10|2|$")
    assert [i.record_number for i in request.items] == [10, 2]
    with pytest.raises(InvalidInputError, match="decimal"):
        _ = ItemRef("2A", 0x2A).record_number


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "SSSEEF05|01|",  # no $
        "SSSEEF05|01$",  # no | before $
        "SSSE05|01|$",  # not a file name
        "DF1EF05|01|$",
        "SSSEEF05|1:2|$",  # a tag is two hex digits
        "SSSEEF05|1234|$",
        "SSSEEF05|GG|$",
        "SSSEEF05|40:0|$",
        "SSSEEF05||$",
        "SSSEEF05|01|01|$",
    ],
)
def test_bad_addresses_name_the_problem(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        fileaddr.parse(bad)


def test_write_data_matches_the_address() -> None:
    requests = fileaddr.parse("DF01EF07|29|$DF01EF0A|37|$")
    # S3 §3.1.2: 写入 2.0 卡就业状态为 1 / 国家代码 CHN
    assert fileaddr.parse_values("DF01EF07|1|$DF01EF0A|CHN|$", requests) == [["1"], ["CHN"]]
    with pytest.raises(InvalidInputError, match="names DF01EF0B"):
        fileaddr.parse_values("DF01EF07|1|$DF01EF0B|CHN|$", requests)
    with pytest.raises(InvalidInputError, match="1 file"):
        fileaddr.parse_values("DF01EF07|1|$", requests)
    with pytest.raises(InvalidInputError, match="2 value"):
        fileaddr.parse_values("DF01EF07|1|2|$DF01EF0A|CHN|$", requests)


def test_records_round_trip() -> None:
    assert fileaddr.parse_record(fileaddr.format_record(["a", "", "c"]), "x") == ["a", "", "c"]
    with pytest.raises(InvalidInputError, match=r"\^"):
        fileaddr.parse_record("a^b", "x")


def test_values_with_separators_are_refused() -> None:
    (request,) = fileaddr.parse("DF01EF0A|37|$")
    with pytest.raises(InvalidInputError, match="separator"):
        fileaddr.format_values([(request, ["A|B"])])


_tags = st.integers(0, 255).map(lambda t: f"{t:02X}")
_items = st.lists(
    st.tuples(_tags, st.one_of(st.none(), st.integers(1, 9))).map(
        lambda t: t[0] + (f":{t[1]}" if t[1] else "")
    ),
    unique=True,
    max_size=6,
)
_names = st.tuples(
    st.one_of(st.just("SSSE"), st.integers(0, 255).map(lambda d: f"DF{d:02X}")),
    st.integers(0, 255).map(lambda e: f"EF{e:02X}"),
).map("".join)


@given(st.lists(st.tuples(_names, _items), min_size=1, max_size=4))
def test_any_well_formed_address_parses_back_to_itself(files: list[tuple[str, list[str]]]) -> None:
    text = "".join(name + "|" + "".join(i + "|" for i in items) + "$" for name, items in files)
    requests = fileaddr.parse(text)
    rebuilt = "".join(
        r.name + "|" + "".join(i.token + "|" for i in r.items) + "$" for r in requests
    )
    assert rebuilt == text
    values = [[f"v{n}" for n in range(len(r.items) or 1)] for r in requests]
    output = fileaddr.format_values(list(zip(requests, values, strict=True)))
    assert fileaddr.parse_values(output, requests) == values
