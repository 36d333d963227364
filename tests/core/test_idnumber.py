import datetime as dt

import pytest

from jiayuan.core import idnumber
from jiayuan.core.idnumber import InvalidIDNumber

# A published sample number (GB 11643 worked example) and one built for Wenshang.
SAMPLE = "11010519491231002X"


def test_parses_a_published_sample() -> None:
    parsed = idnumber.parse(SAMPLE)
    assert parsed.division == "110105"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "female"


@pytest.mark.parametrize("gender", ["male", "female"])
def test_build_round_trips(gender: str) -> None:
    value = idnumber.build("370830", dt.date(1946, 11, 28), 42, gender)
    parsed = idnumber.parse(value)
    assert parsed.value == value
    assert parsed.birth_date == dt.date(1946, 11, 28)
    assert parsed.gender == gender


def test_lower_case_x_and_spaces_are_normalised() -> None:
    assert idnumber.parse(" 11010519491231002x ").value == SAMPLE


def test_a_fifteen_digit_number_is_upgraded_to_eighteen() -> None:
    # The first-generation form of SAMPLE: no century, no check character.
    parsed = idnumber.parse("110105491231002")
    assert parsed.value == SAMPLE
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "female"


def test_fifteen_characters_that_are_not_digits_are_not_upgraded() -> None:
    with pytest.raises(InvalidIDNumber):
        idnumber.parse("11010549123100X")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("110105194912310021", "校验位"),  # wrong check character
        ("37083019990230001X", "出生日期"),  # 30 February
        ("37083019900101001", "身份证号码应为18位"),  # 17 characters
        ("990830199001010011", "行政区划"),  # no province 99
        ("ABCDEF199001010011", "18位"),
    ],
)
def test_rejects_with_a_bilingual_message(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidIDNumber) as info:
        idnumber.parse(raw)
    assert fragment in info.value.zh
    assert info.value.en  # an English message too
    assert info.value.code == "invalid_id_number"


def test_rejects_a_birth_date_in_the_future() -> None:
    body = "370830" + "20991231" + "001"
    future = body + idnumber.check_char(body)
    with pytest.raises(InvalidIDNumber, match="不可能"):
        idnumber.parse(future, today=dt.date(2026, 11, 28))


def test_every_single_digit_change_breaks_the_checksum() -> None:
    value = idnumber.build("370830", dt.date(1980, 5, 17), 7, "male")
    for i in range(14, 17):  # sequence digits: the date stays valid
        digit = str((int(value[i]) + 1) % 10)
        broken = value[:i] + digit + value[i + 1 :]
        with pytest.raises(InvalidIDNumber):
            idnumber.parse(broken)
