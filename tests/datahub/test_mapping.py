"""Mapping: transforms, dictionary maps, parsing by kind (ID numbers, the dates agencies
write, Excel serial days, numbers), problems with masked values, schema drift, and the
shipped sources.yaml compiling against the registered targets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from jiayuan.core import imports
from jiayuan.core.imports import Kind, TargetField
from jiayuan.datahub import sources
from jiayuan.datahub.connectors import EXTRA
from jiayuan.datahub.mapping import Mapping, MappingError

from .conftest import id_number

FIELDS = (
    TargetField("id_number", "身份证号", Kind.ID_NUMBER, required=True, pii=True),
    TargetField("name", "姓名", required=True),
    TargetField("since", "起始日期", Kind.DATE),
    TargetField("persons", "保障人数", Kind.INT),
    TargetField("amount", "月保障金额", Kind.DECIMAL),
    TargetField("category", "救助类别", Kind.CHOICE, choices=("低保", "特困")),
    TargetField("phone", "电话", Kind.PHONE, pii=True),
)
SPEC: list[dict[str, Any]] = [
    {"column": "身份证号", "field": "id_number", "aliases": ["公民身份号码"],
     "transforms": ["trim", "nospace", "halfwidth", "upper"]},
    {"column": "姓名", "field": "name", "transforms": ["trim", "nospace"]},
    {"column": "起始日期", "field": "since", "formats": ["%d/%m/%Y"]},
    {"column": "保障人数", "field": "persons"},
    {"column": "月保障金额", "field": "amount"},
    {"column": "救助类别", "field": "category",
     "map": {"01": "低保", "02": "特困", "低保": "低保"}},
    {"column": "电话", "field": "phone", "optional": True},
    {"column": "备注", "ignore": True},
]  # fmt: skip
HEADER = ["身份证号", "姓名", "起始日期", "保障人数", "月保障金额", "救助类别", "电话", "备注"]


def mapped(**raw: Any) -> tuple[Any, list[Any]]:
    m = Mapping(SPEC, FIELDS)
    m.bind(HEADER)
    values = {"身份证号": id_number(1), "姓名": "张三", **raw}
    return m.row(2, values, "d")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("20250131", dt.date(2025, 1, 31)),
        ("2025-01-31", dt.date(2025, 1, 31)),
        ("2025/1/3", dt.date(2025, 1, 3)),
        ("2025.1.3", dt.date(2025, 1, 3)),
        ("2025年1月3日", dt.date(2025, 1, 3)),
        ("2025-01-31 08:30:00", dt.date(2025, 1, 31)),
        ("45000", dt.date(2023, 3, 15)),  # Excel serial day
        (45000.0, dt.date(2023, 3, 15)),
        ("31/01/2025", dt.date(2025, 1, 31)),  # the stream's own format
        (dt.datetime(2025, 1, 31, 9, 0), dt.date(2025, 1, 31)),
        (dt.date(2025, 1, 31), dt.date(2025, 1, 31)),
    ],
)
def test_dates_in_the_spellings_agencies_use(text: Any, day: dt.date) -> None:
    row, problems = mapped(起始日期=text)
    assert not problems and row.values["since"] == day


@pytest.mark.parametrize("text", ["20250230", "2025-13-01", "昨天", "1800-01-01", "99999999"])
def test_impossible_dates_are_problems(text: str) -> None:
    row, problems = mapped(起始日期=text)
    assert row is not None and "since" not in row.values  # optional: left out, reported
    assert [(p.line, p.field, p.code, p.raw) for p in problems] == [
        (2, "since", "invalid_date", text)
    ]
    assert "起始日期" in problems[0].reason


def test_id_numbers_are_normalised_or_refused_with_a_masked_value() -> None:
    eighteen = id_number(5)
    fifteen = eighteen[:6] + eighteen[8:17]
    fullwidth = eighteen.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    for raw in (fifteen, f" {eighteen[:9]} {eighteen[9:]} ", fullwidth):
        row, problems = mapped(身份证号=raw)
        assert not problems and row.values["id_number"] == eighteen, raw
    x = next(id_number(i) for i in range(500) if id_number(i).endswith("X"))
    assert mapped(身份证号=x.lower())[0].values["id_number"] == x

    bad = eighteen[:17] + ("0" if eighteen[17] != "0" else "1")
    row, problems = mapped(身份证号=bad)
    assert row is None  # required: the row is refused
    (problem,) = problems
    assert (problem.field, problem.code, problem.reason) == (
        "id_number", "invalid_id_number", "身份证号码校验位错误",
    )  # fmt: skip
    assert problem.raw == bad[:6] + "********" + bad[-4:]


def test_an_id_number_stored_as_an_excel_number_is_explained() -> None:
    row, problems = mapped(身份证号=float(id_number(5)[:17] + "1"))
    assert row is None and problems[0].code == "id_number_as_number"
    assert "文本" in problems[0].reason


def test_dictionary_maps_and_choices() -> None:
    assert mapped(救助类别="02")[0].values["category"] == "特困"
    row, problems = mapped(救助类别="99")
    assert "category" not in row.values
    assert (problems[0].code, problems[0].raw) == ("unknown_code", "99")
    star = [*SPEC[:5], {**SPEC[5], "map": {"01": "低保", "*": "特困"}}]
    m = Mapping(star, FIELDS)
    m.bind(HEADER)
    assert (
        m.row(2, {"身份证号": id_number(1), "姓名": "a", "救助类别": "别的"}, "d")[0].values[
            "category"
        ]
        == "特困"
    )


def test_numbers() -> None:
    row, problems = mapped(保障人数="3人", 月保障金额="1,234.50元")
    assert not problems
    assert row.values["persons"] == 3 and row.values["amount"] == Decimal("1234.50")
    row, problems = mapped(保障人数="2.5", 月保障金额="很多", 电话="12")
    assert {p.code for p in problems} == {"invalid_int", "invalid_number", "invalid_phone"}
    assert row is not None and not {"persons", "amount", "phone"} & set(row.values)
    assert problems[-1].raw == "**"  # a phone is masked too


def test_required_fields_and_extra_cells_refuse_the_row() -> None:
    row, problems = mapped(姓名=" \u3000 ")
    assert row is None and [(p.field, p.code) for p in problems] == [("name", "required")]
    row, problems = mapped(**{EXTRA: ["多出的值"]})
    assert row is None and problems[0].code == "extra_cells" and problems[0].raw == "多出的值"


def test_huge_text_is_a_problem_not_a_truncation() -> None:
    row, problems = mapped(姓名="张" * 1000)
    assert row is None and problems[0].code == "too_long"


def test_schema_drift_missing_new_renamed_optional_and_ignored() -> None:
    m = Mapping(SPEC, FIELDS)
    drift = m.drift(["公民身份号码", "姓名", "起始日期", "保障人数", "救助类别", "联系人"])
    assert drift.missing == ["月保障金额"]  # 电话 is optional, 备注 ignored
    assert drift.new == ["联系人"]
    assert drift.renamed == {"公民身份号码": "身份证号"}
    assert bool(drift) and "缺少列：月保障金额" in drift.describe()
    assert not m.drift(HEADER)
    assert not m.drift([c for c in HEADER if c not in ("电话", "备注")])


@pytest.mark.parametrize(
    ("spec", "word"),
    [
        ([{"column": "x", "field": "nope"}], "nope"),
        ([*SPEC[:2], {"column": "x", "field": "name"}], "两次"),
        ([{**SPEC[0], "transforms": ["shout"]}, SPEC[1]], "shout"),
        ([SPEC[1]], "id_number"),
        ([{"field": "name"}], "column"),
    ],
)
def test_a_wrong_mapping_is_refused_before_reading(spec: Any, word: str) -> None:
    with pytest.raises(MappingError) as caught:
        Mapping(spec, FIELDS)
    assert word in caught.value.zh


def test_the_shipped_sources_compile_against_the_registered_targets() -> None:
    items = sources.load()
    assert [i["code"] for i in items] == [
        "gongan-huji", "minzheng-jiuzhu", "canlian-canji", "wangge-caiji",
    ]  # fmt: skip
    for item in items:
        for stream in item["streams"]:
            target = imports.get(stream["target"])
            Mapping(stream["mapping"], target.fields)  # raises on a field the target lacks
