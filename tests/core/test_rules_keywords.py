"""Keywords are never names: a doubled operator is reported where it stands."""

from __future__ import annotations

import pytest

from jiayuan.core.rules import RuleError
from jiayuan.core.rules.parser import parse


@pytest.mark.parametrize(
    ("source", "column"),
    [("age >= 80 and and hukou", 15), ("and", 1), ("not or", 5)],
)
def test_a_keyword_where_an_operand_belongs_is_a_syntax_error_at_the_keyword(
    source: str, column: int
) -> None:
    with pytest.raises(RuleError) as raised:
        parse(source)
    assert raised.value.detail["column"] == column
    assert "名称" in raised.value.zh and "a name" in raised.value.en


def test_in_expects_a_list_not_another_keyword() -> None:
    with pytest.raises(RuleError) as raised:
        parse("age in in (1)")
    assert raised.value.detail["column"] == 8


@pytest.mark.parametrize("name", ["notes", "index", "order_no", "android", "nullable", "true_age"])
def test_names_that_begin_with_a_keyword_are_still_names(name: str) -> None:
    parse(f"{name} == 1")
