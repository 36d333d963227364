"""The one table's query engine: numbers equal hand-written SQL on the seeded county,
GROUPING SETS and UNION ALL agree, the scope and the filter hold, labels and order are
the ones a reader expects."""

# The hand-written SQL below is built from constants of this file only.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from jiayuan.core.reporting import Context
from jiayuan.core.rules import RuleError
from jiayuan.datahub.reports import query
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 30)
COMMUNITY_WIDTH = len("370830/001/001/")


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def sql(text: str, *params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        return list(cursor.fetchall())


def cells_by_label(table: query.Table) -> dict[tuple[str, ...], list[Any]]:
    n = table.label_columns
    return {tuple(r["cells"][:n]): r["cells"][n:] for r in table.rows}


def names() -> dict[str, str]:
    return dict(Area.objects.values_list("path", "name"))


def test_persons_by_community_and_gender_equal_hand_written_sql() -> None:
    # given the county's living residents, counted by hand
    alive = "(death_date IS NULL OR death_date > %s)"
    detail = sql(
        f"SELECT substr(area_path, 1, {COMMUNITY_WIDTH}), gender, COUNT(*) FROM people_person "
        f"WHERE {alive} GROUP BY 1, 2",
        TODAY,
    )
    by_community = dict(
        sql(
            f"SELECT substr(area_path, 1, {COMMUNITY_WIDTH}), COUNT(*) FROM people_person "
            f"WHERE {alive} GROUP BY 1",
            TODAY,
        )
    )
    by_gender = dict(
        sql(f"SELECT gender, COUNT(*) FROM people_person WHERE {alive} GROUP BY 1", TODAY)
    )
    total = sql(f"SELECT COUNT(*) FROM people_person WHERE {alive}", TODAY)[0][0]

    # when the report is run for the county administrator
    spec = {"dataset": "persons", "rows": ["community"], "columns": ["gender"]}
    table = query.run(spec, user("admin"), today=TODAY)

    # then every cell, every row total, every column total and the grand total agree
    label = names()
    cells = cells_by_label(table)
    assert [h["text"] for h in table.header[0]] == ["社区", "男", "女", "合计"]
    for path, gender, n in detail:
        assert cells[(label[path],)][["male", "female"].index(gender)] == n
    for path, n in by_community.items():
        assert cells[(label[path],)][2] == n
    assert cells[("合计",)] == [by_gender["male"], by_gender["female"], total]
    assert total > 300  # the tiny county is not empty: the comparison means something


def test_special_groups_count_each_person_once_in_the_totals() -> None:
    # given persons holding valid special-population tags, counted by hand (a person
    # with two such tags is in two columns but once in the 合计 column)
    valid = (
        "(t.valid_from IS NULL OR t.valid_from <= %s) AND (t.valid_until IS NULL OR "
        "t.valid_until > %s) AND (p.death_date IS NULL OR p.death_date > %s) "
        "AND g.category = '特殊人群'"
    )
    base = (
        "FROM people_person p JOIN people_persontag t ON t.person_id = p.id "
        f"JOIN people_tag g ON g.id = t.tag_id WHERE {valid}"
    )
    detail = sql(
        f"SELECT substr(p.area_path, 1, {COMMUNITY_WIDTH}), g.name, COUNT(DISTINCT p.id) "
        f"{base} GROUP BY 1, 2", TODAY, TODAY, TODAY,
    )  # fmt: skip
    row_totals = dict(sql(
        f"SELECT substr(p.area_path, 1, {COMMUNITY_WIDTH}), COUNT(DISTINCT p.id) {base} "
        "GROUP BY 1", TODAY, TODAY, TODAY,
    ))  # fmt: skip
    grand = sql(f"SELECT COUNT(DISTINCT p.id) {base}", TODAY, TODAY, TODAY)[0][0]
    tag_counts = sum(n for _p, _t, n in detail)

    # when
    spec = {"dataset": "persons", "rows": ["community"], "columns": ["special_group"]}
    table = query.run(spec, user("admin"), today=TODAY)

    # then
    label = names()
    heads = [h["text"] for h in table.header[0][1:]]
    cells = cells_by_label(table)
    for path, tag, n in detail:
        assert cells[(label[path],)][heads.index(tag)] == n
    for path, n in row_totals.items():
        assert cells[(label[path],)][-1] == n
    assert cells[("合计",)][-1] == grand
    assert grand < tag_counts, "someone holds two special tags: the totals are distinct"


def test_cases_with_a_filter_and_two_row_levels_equal_hand_written_sql() -> None:
    # given closed cases by top-level category and channel, counted by hand
    rows = sql(
        "SELECT COALESCE(p.code, c.code), k.channel, COUNT(*) FROM cases_case k "
        "JOIN cases_category c ON c.id = k.category_id "
        "LEFT JOIN cases_category p ON p.id = c.parent_id "
        "WHERE k.status = 'closed' GROUP BY 1, 2"
    )
    categories = dict(sql("SELECT code, name FROM cases_category"))
    expected: dict[tuple[str, ...], int] = defaultdict(int)
    for category, channel, n in rows:
        expected[(categories[category], channel)] += n
        expected[(categories[category], "小计")] += n
        expected[("合计", "")] += n

    # when
    spec = {"dataset": "cases", "rows": ["category", "channel"], "filter": 'status == "已办结"'}
    table = query.run(spec, user("admin"), today=TODAY)

    # then
    from jiayuan.cases.choices import Channel

    labels = {str(v): str(lbl) for v, lbl in Channel.choices}
    got = {k: v[0] for k, v in cells_by_label(table).items()}
    want = {(a, labels.get(b, b)): n for (a, b), n in expected.items()}
    assert got == want
    assert [r["kind"] for r in table.rows].count("total") == 1
    # every group ends with its 小计, right after its last detail row
    kinds = [r["kind"] for r in table.rows]
    assert kinds[-2:] == ["subtotal", "total"]


@pytest.mark.parametrize(
    "spec",
    [
        {"dataset": "persons", "rows": ["community", "grid"], "columns": ["gender", "age_band"],
         "measures": ["persons", "households", "elderly"]},
        {"dataset": "persons", "rows": ["street", "community", "grid"],
         "columns": ["special_group"], "measures": ["persons", "households", "party_members"]},
        {"dataset": "alarms", "rows": ["community"], "columns": ["severity"],
         "measures": ["alarms", "repeats"]},
        {"dataset": "matches", "rows": ["policy"], "columns": ["status"],
         "measures": ["matches", "persons"]},
    ],
)  # fmt: skip
def test_union_all_and_grouping_sets_give_the_same_numbers(spec: dict[str, Any]) -> None:
    # SQLite has no GROUPING SETS: the UNION ALL form is what runs there. On PostgreSQL
    # both run, and every cell must agree.
    admin = user("admin")
    parsed = query.parse_spec(spec)
    ctx = Context(TODAY)
    union = query.fetch(query.plan(parsed, admin, ctx, "union_all"))
    assert union
    if connection.vendor != "postgresql":
        assert query.default_strategy() == "union_all"
        with pytest.raises(Exception):  # noqa: B017 - SQLite refuses the syntax itself
            query.fetch(query.plan(parsed, admin, ctx, "grouping_sets"))
        return
    assert query.default_strategy() == "grouping_sets"
    grouped = query.fetch(query.plan(parsed, admin, ctx, "grouping_sets"))
    assert grouped == union


def test_grouping_sets_are_every_prefix_of_rows_times_every_prefix_of_columns() -> None:
    assert query.grouping_sets(2, 1) == [(0, 1, 2), (0, 1), (0, 2), (0,), (2,), ()]
    assert query.grouping_sets(1, 0) == [(0,), ()]


def test_the_scope_limits_every_number_to_the_users_area() -> None:
    # given the grid worker's grid
    from jiayuan.org.models import Membership

    grid = Membership.objects.get(user__username="grid", role="grid_worker").area
    alive = sql(
        "SELECT COUNT(*) FROM people_person WHERE (death_date IS NULL OR death_date > %s) "
        "AND area_path LIKE %s",
        TODAY, grid.path + "%",
    )[0][0]  # fmt: skip

    # when the grid worker asks for the whole county by community and grid
    spec = {"dataset": "persons", "rows": ["community", "grid"]}
    table = query.run(spec, user("grid"), today=TODAY)

    # then only their grid appears, and the total is their grid's residents
    data = [r["cells"][:2] for r in table.rows if r["kind"] == "data"]
    assert data == [[grid.parent.parent.name, grid.name]]  # type: ignore[union-attr]
    assert table.rows[-1]["cells"] == ["合计", "", alive]


def test_a_resident_sees_no_numbers() -> None:
    table = query.run({"dataset": "persons", "rows": ["community"]}, user("resident"))
    assert [r["kind"] for r in table.rows] == ["total"]
    assert table.rows[0]["cells"] == ["合计", 0]


def test_values_are_chinese_labels_in_a_stable_order() -> None:
    spec = {"dataset": "persons", "rows": ["age_band"], "columns": ["political_status"]}
    table = query.run(spec, user("admin"), today=TODAY)
    bands = [r["cells"][0] for r in table.rows if r["kind"] == "data"]
    order = ["0–6岁", "7–17岁", "18–34岁", "35–59岁", "60–69岁", "70–79岁", "80岁及以上"]
    assert bands == [b for b in order if b in bands] and len(bands) >= 5
    # every declared column appears, zeros included, in the declared order
    assert [h["text"] for h in table.header[0][1:]] == [
        "中共党员", "中共预备党员", "共青团员", "群众", "合计",
    ]  # fmt: skip
    # communities in tree order (by path), not by name
    by_area = query.run({"dataset": "persons", "rows": ["grid"]}, user("admin"), today=TODAY)
    grids = [r["cells"][0] for r in by_area.rows if r["kind"] == "data"]
    from jiayuan.people.models import Person

    in_tree = [
        a.name
        for a in Area.objects.filter(kind="grid").order_by("path")
        if Person.objects.filter(area_path__startswith=a.path).exists()
    ]
    assert grids == in_tree


def test_the_header_merges_column_values_over_their_sub_columns() -> None:
    spec = {"dataset": "persons", "rows": ["community"], "columns": ["gender", "hukou_type"],
            "measures": ["persons", "households"]}  # fmt: skip
    table = query.run(spec, user("admin"), today=TODAY)
    top, middle, bottom = table.header
    assert [(c["text"], c["colspan"], c["rowspan"]) for c in top] == [
        ("社区", 1, 3), ("男", 6, 1), ("女", 6, 1), ("合计", 2, 2),
    ]  # fmt: skip
    assert [c["text"] for c in middle] == ["城镇", "农村", "小计"] * 2
    assert [c["text"] for c in bottom] == ["人数", "户数"] * 7
    assert table.width == 1 + 7 * 2
    assert all(len(r["cells"]) == table.width for r in table.rows)
    # a 小计 column is the sum of its group's columns (persons are in exactly one)
    for r in table.rows:
        n = r["cells"][1:]
        assert n[4] == n[0] + n[2] and n[10] == n[6] + n[8] and n[12] == n[4] + n[10]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"dataset": "nope", "rows": ["grid"]}, "dataset"),
        ({"dataset": "persons", "rows": ["grid", "nope"]}, "rows"),
        ({"dataset": "persons", "rows": ["grid"], "columns": ["nope"]}, "columns"),
        ({"dataset": "persons", "rows": ["grid"], "measures": ["nope"]}, "measures"),
        ({"dataset": "persons", "rows": []}, "rows"),
        ({"dataset": "persons", "rows": ["street", "community", "zone", "grid"]}, "rows"),
        ({"dataset": "persons", "rows": ["grid"], "columns": ["gender", "age_band", "tag"]},
         "columns"),
        ({"dataset": "persons", "rows": ["grid", "grid"]}, "rows"),
        ({"dataset": "persons", "rows": "grid"}, "rows"),
        ({"dataset": "persons", "rows": ["grid"], "filter": "x" * 3000}, "filter"),
        ({"dataset": "alarms", "rows": ["grid"], "measures": ["repeats"], "columns": ["severity"],
          "filter": 1}, "filter"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_refused_in_both_languages(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(query.ReportError) as caught:
        query.parse_spec(spec)
    assert caught.value.field == field
    assert caught.value.status == 422 and " / " in caught.value.message


def test_a_bad_filter_says_where_it_is() -> None:
    with pytest.raises(RuleError) as caught:
        query.parse_spec({"dataset": "persons", "rows": ["grid"], "filter": "age >= "})
    assert caught.value.detail["line"] == 1 and caught.value.status == 422
    with pytest.raises(RuleError):  # a name the dataset's registry does not know
        query.parse_spec({"dataset": "cases", "rows": ["grid"], "filter": "age >= 60"})


def test_a_sum_cannot_be_split_by_tags() -> None:
    with pytest.raises(query.ReportError):
        query.parse_spec(
            {"dataset": "households", "rows": ["household_type"], "measures": ["members"]}
        )


def test_two_tag_dimensions_join_their_tags_separately() -> None:
    # given persons by special group (rows) and any tag (columns): a person in row
    # 残疾人 is counted under each tag they hold, 残疾人 included
    spec = {"dataset": "persons", "rows": ["special_group"], "columns": ["tag"]}
    table = query.run(spec, user("admin"), today=TODAY)
    heads = [h["text"] for h in table.header[0][1:]]
    by_row = cells_by_label(table)

    # then on the diagonal each special group's column equals its row total
    for (group,), cells in by_row.items():
        if group != "合计":
            assert cells[heads.index(group)] == cells[-1], group
    # and rows are special groups only, while a row also counts its people's other tags
    from jiayuan.people.models import Tag

    special = set(Tag.objects.filter(category="特殊人群").values_list("name", flat=True))
    assert {g for (g,) in by_row if g != "合计"} <= special
    assert "城乡居民养老保险" in heads
    assert any(
        sum(c for h, c in zip(heads[:-1], cells[:-1], strict=True) if h != group) > 0
        for (group,), cells in by_row.items()
        if group != "合计"
    )
