"""The 统一社会信用代码 (GB 32100-2015): generated codes validate, any single-character
change is caught, and each broken rule is named in both languages."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiayuan.core.divisions import COUNTIES
from jiayuan.core.errors import ValidationFailed
from jiayuan.partners import identity

# Published examples: the standard's own, and a real company's registered code.
KNOWN = ["91350100M000100Y43", "91110108551385082Q"]

divisions = st.sampled_from(sorted(COUNTIES))
pairs = st.sampled_from([(a, c) for a, (_name, cats) in identity.AUTHORITIES.items() for c in cats])
seeds = st.integers(min_value=0, max_value=2**32)


@pytest.mark.parametrize("code", KNOWN)
def test_known_codes_validate(code: str) -> None:
    parsed = identity.validate(code)
    assert parsed.code == code and parsed.authority == "9" and parsed.category == "1"


def test_parts_and_normalisation() -> None:
    parsed = identity.validate(" ９１１１０１０８-551385082q ")  # full-width, dash, lower case
    assert parsed.code == "91110108551385082Q"
    assert parsed.division == "110108" and parsed.organisation_code == "551385082"
    code = identity.generate("370830", random.Random(3))
    assert identity.validate(code).division_name == "济宁市汶上县"


@given(division=divisions, pair=pairs, seed=seeds)
def test_generated_codes_validate(division: str, pair: tuple[str, str], seed: int) -> None:
    code = identity.generate(division, random.Random(seed), authority=pair[0], category=pair[1])
    assert len(code) == 18 and code[2:8] == division
    assert identity.problems(code) == []


@given(
    division=divisions,
    seed=seeds,
    position=st.integers(min_value=0, max_value=17),
    replacement=st.characters(codec="utf-8", exclude_characters=" -\t\n\r"),
)
def test_any_single_character_change_is_caught(
    division: str, seed: int, position: int, replacement: str
) -> None:
    code = identity.generate(division, random.Random(seed))
    changed = code[:position] + replacement + code[position + 1 :]
    if identity.normalise(changed) == code:
        return  # the same character (or its full-width or lower-case form)
    assert identity.problems(changed), changed
    with pytest.raises(ValidationFailed):
        identity.validate(changed)


@given(division=divisions, seed=seeds, position=st.integers(min_value=0, max_value=16))
def test_swapping_neighbours_is_caught(division: str, seed: int, position: int) -> None:
    code = identity.generate(division, random.Random(seed))
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    assert not identity.is_valid(swapped)


@pytest.mark.parametrize(
    ("code", "rule", "position"),
    [
        ("9135010", "length", 0),
        ("91350100M000100Y43X", "length", 0),
        ("91350100M00010OY43", "charset", 15),  # the letter O
        ("I1350100M000100Y43", "charset", 1),
        ("<script>alert(1)<", "length", 0),
        ("<script>alert(1)<x", "charset", 1),
        ("B1350100M000100Y43", "authority", 1),
        ("94350100M000100Y43", "category", 2),
        ("913501A0M000100Y43", "division", 3),
        ("91990100M000100Y43", "division", 3),
        ("91350100M000100Y53", "organisation_code", 17),
        ("91350100M000100Y44", "check", 18),
    ],
)
def test_each_rule_is_named(code: str, rule: str, position: int) -> None:
    found = identity.problems(code)
    assert found and found[0].rule == rule and found[0].position == position
    with pytest.raises(ValidationFailed) as caught:
        identity.validate(code)
    error = caught.value
    assert error.status == 422 and error.field == "uscc"
    assert error.zh == found[0].zh and error.en == found[0].en
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.zh) and error.en.isascii()
    assert error.detail[0]["rule"] == rule


def test_generate_refuses_what_it_cannot_make() -> None:
    with pytest.raises(ValueError):
        identity.generate("990101", random.Random(1))
    with pytest.raises(ValueError):
        identity.generate("370830", random.Random(1), authority="9", category="9")
