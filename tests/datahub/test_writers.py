"""The import targets that write rows: persons (公安户籍) and disability certificates
(残联), on the seeded tiny county. The helpers here (a run, its context, rows, an
address of a dwelling) are used by the resolution, provenance and review tests too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.core import idnumber, imports, pii
from jiayuan.core.imports import Context, Outcome, Row
from jiayuan.core.models import AuditEntry
from jiayuan.datahub import provenance
from jiayuan.datahub.models import ImportRun, Source, SourceValues, Stream
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Household, Person, PersonTag

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 1)


# --- helpers shared by the data hub's writer tests ----------------------------------------
def make_run(
    code: str = "t-huji", rank: int = 40, target: str = "person", name: str = "测试户籍",
    as_of: dt.date = AS_OF, field_ranks: dict[str, int] | None = None,
) -> ImportRun:  # fmt: skip
    source, _ = Source.objects.get_or_create(
        code=code, defaults={"name": name, "agency": "测试单位", "kind": "csv", "rank": rank}
    )
    stream, _ = Stream.objects.get_or_create(
        source=source, name="rows", defaults={"target": target, "field_ranks": field_ranks or {}}
    )
    return ImportRun.objects.create(stream=stream, as_of=as_of)


def context_of(run: ImportRun, actor: Any = None) -> Context:
    source = run.stream.source
    return Context(
        run_id=run.pk, source_code=source.code, source_name=source.name, rank=source.rank,
        field_ranks=run.stream.field_ranks, as_of=run.as_of or AS_OF, actor=actor,
    )  # fmt: skip


def rows(*values: dict[str, Any], start: int = 2) -> list[Row]:
    return [
        Row(line=start + i, values=v, raw={k: str(x) for k, x in v.items()}, digest=f"d{start + i}")
        for i, v in enumerate(values)
    ]


def write(target: str, run: ImportRun, *values: dict[str, Any], actor: Any = None) -> Any:
    return imports.get(target).write(context_of(run, actor), rows(*values))


def address_of(dwelling: Dwelling) -> str:
    """The address as an agency writes it: community, zone, building, unit, room."""
    unit = Area.objects.get(pk=dwelling.unit_id)
    names = {a.kind: a.name for a in unit.ancestors()} | {"unit": unit.name}
    return (
        f"{names['community']}{names['zone']}{names['building']}{names['unit']}{dwelling.number}室"
    )


def born_of(n: int, born: dt.date = dt.date(1985, 6, 1)) -> dt.date:
    """The birth date in ``new_id(n, born)`` (sequence digits repeat every 100)."""
    return born + dt.timedelta(days=n // 100)


def new_id(n: int, born: dt.date = dt.date(1985, 6, 1), gender: str = "male") -> str:
    body = f"370830{born_of(n, born):%Y%m%d}{n % 100:02d}{'1' if gender == 'male' else '2'}"
    return body + idnumber.check_char(body)


def free_dwelling(offset: int = 0) -> Dwelling:
    """A dwelling of the tiny county (the seed leaves some empty)."""
    return Dwelling.objects.order_by("pk")[offset]


def person_row(n: int, dwelling: Dwelling, **over: Any) -> dict[str, Any]:
    born = over.pop("born", dt.date(1985, 6, 1))
    values = {
        "id_number": new_id(n, born), "name": f"导入居民{n}", "gender": "male",
        "birth_date": born_of(n, born), "ethnicity": "汉族", "hukou_no": f"T{n:06d}",
        "relation": "户主",
        "hukou_address": "山东省汶上县中都街道", "address": address_of(dwelling),
        "hukou_type": "非农业",
    }  # fmt: skip
    values.update(over)
    return values


# --- persons ----------------------------------------------------------------------------
def test_a_new_person_is_placed_at_the_dwelling_with_household_audit_and_provenance() -> None:
    run = make_run()
    dwelling = free_dwelling(3)
    # when
    out = write("person", run, person_row(1, dwelling))
    # then
    assert out.outcomes == [Outcome.INSERTED] and out.problems == []
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(1), purpose="id"))
    assert (p.name, p.dwelling_id, p.area_id) == ("导入居民1", dwelling.pk, dwelling.unit_id)
    assert p.area_path == dwelling.area_path and p.hukou_type == "urban" and p.relation == "head"
    assert p.birth_date == dt.date(1985, 6, 1) and p.hukou_code == "370830"
    hh = Household.objects.get(number="T000001")
    assert hh.head_id == p.pk and p.household_id == hh.pk
    assert AuditEntry.objects.for_object(p).filter(action="create").count() == 1
    held = {fv.field: fv.value for fv in provenance.values_of("person", p.pk) if fv.current}
    assert held["name"] == "导入居民1" and held["id_number"] == pii.mask_id_number(new_id(1))
    assert held["hukou_address"] == "山东省汶上县中都街道"
    assert new_id(1) not in str(list(SourceValues.objects.filter(object_id=p.pk).values()))
    # the same row again changes nothing
    again = write("person", make_run(), person_row(1, dwelling))
    assert again.outcomes == [Outcome.UNCHANGED]


def test_a_seeded_resident_found_by_id_number_is_updated_with_an_audit_diff() -> None:
    p = Person.objects.exclude(id_number_enc="").order_by("pk")[5]
    number = p.reveal_id_number()
    run = make_run()
    out = write("person", run, {"id_number": number, "name": p.name + "新", "address": ""})
    assert out.outcomes == [Outcome.UPDATED]
    p.refresh_from_db()
    assert p.name.endswith("新")
    entry = AuditEntry.objects.for_object(p).filter(action="update").latest("at")
    assert "name" in entry.changes and entry.note.startswith("数据导入")


def test_a_fifteen_digit_number_finds_the_same_resident() -> None:
    born = dt.date(1956, 3, 9)
    eighteen = new_id(7, born)
    fifteen = eighteen[:6] + eighteen[8:17]
    dwelling = free_dwelling(4)
    write("person", make_run(), person_row(7, dwelling, born=born))
    out = write("person", make_run(), {"id_number": fifteen, "name": "导入居民7"})
    assert out.outcomes == [Outcome.UNCHANGED]
    assert (
        Person.objects.filter(id_number_index=pii.blind_index(eighteen, purpose="id")).count() == 1
    )


def test_bad_rows_are_refused_with_line_field_and_reason() -> None:
    run = make_run()
    d = free_dwelling(5)
    bad_check = new_id(2)[:-1] + ("0" if new_id(2)[-1] != "0" else "1")
    out = write(
        "person", run,
        {"id_number": bad_check, "name": "校验错"},  # invalid, and no birth date to compare
        person_row(3, d, birth_date=dt.date(1999, 1, 1)),  # disagrees with the number
        person_row(4, d, address="火星基地1号"),  # no such place
        {"id_number": new_id(5), "name": ""},
    )  # fmt: skip
    assert out.outcomes == [Outcome.REJECTED] * 4
    codes = {(p.line, p.field, p.code) for p in out.problems}
    assert codes == {
        (2, "id_number", "invalid_id_number"), (3, "birth_date", "id_birth_mismatch"),
        (4, "address", "unknown_place"), (5, "name", "required"),
    }  # fmt: skip
    assert all(p.reason and p.reason_en for p in out.problems)
    assert bad_check not in " ".join(p.raw for p in out.problems)  # masked


def test_a_cancelled_registration_records_the_death_or_the_move() -> None:
    d = free_dwelling(6)
    write("person", make_run(), person_row(11, d), person_row(12, d, hukou_no="T000011"))
    out = write(
        "person", make_run(as_of=dt.date(2026, 11, 20)),
        {"id_number": new_id(11), "name": "导入居民11", "cancel_reason": "死亡",
         "cancel_date": dt.date(2026, 10, 3)},
        {"id_number": new_id(12), "name": "导入居民12", "cancel_reason": "迁出"},
    )  # fmt: skip
    assert out.outcomes == [Outcome.UPDATED, Outcome.UPDATED]
    dead = Person.objects.get(id_number_index=pii.blind_index(new_id(11), purpose="id"))
    gone = Person.objects.get(id_number_index=pii.blind_index(new_id(12), purpose="id"))
    assert dead.death_date == dt.date(2026, 10, 3)
    assert gone.residence_status == "away" and gone.death_date is None


def test_a_batch_costs_the_same_queries_whatever_its_size() -> None:
    def cost(start: int, n: int) -> int:
        batch = [person_row(start + i, free_dwelling(i % 20), hukou_no=f"Q{start + i}")
                 for i in range(n)]  # fmt: skip
        context = context_of(make_run())
        with CaptureQueriesContext(connection) as ctx:
            out = imports.get("person").write(context, rows(*batch))
        assert out.outcomes == [Outcome.INSERTED] * n
        return len(ctx.captured_queries)

    def cost_again(start: int, n: int) -> int:
        batch = [person_row(start + i, free_dwelling(i % 20), hukou_no=f"Q{start + i}",
                            name=f"改名{start + i}") for i in range(n)]  # fmt: skip
        context = context_of(make_run())
        with CaptureQueriesContext(connection) as ctx:
            out = imports.get("person").write(context, rows(*batch))
        assert out.outcomes == [Outcome.UPDATED] * n
        return len(ctx.captured_queries)

    small, large = cost(100, 5), cost(300, 60)
    assert large == small
    assert cost_again(300, 60) == cost_again(100, 5)


def test_a_number_twice_in_one_batch_is_written_in_order() -> None:
    d1, d2 = free_dwelling(7), free_dwelling(8)
    out = write("person", make_run(), person_row(21, d1), person_row(21, d2))
    assert out.outcomes == [Outcome.INSERTED, Outcome.UPDATED]
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(21), purpose="id"))
    assert p.dwelling_id == d2.pk


def test_an_importing_user_writes_only_inside_their_area() -> None:
    from django.contrib.auth import get_user_model

    grid = get_user_model().objects.get(username="grid")
    inside = Dwelling.objects.filter(area_path__startswith=grid.memberships.get().area.path).first()
    outside = Dwelling.objects.exclude(
        area_path__startswith=grid.memberships.get().area.path
    ).first()
    assert inside is not None and outside is not None
    out = write(
        "person", make_run(), person_row(31, inside), person_row(32, outside, hukou_no="T32"),
        actor=grid,
    )  # fmt: skip
    assert out.outcomes == [Outcome.INSERTED, Outcome.REJECTED]
    assert out.problems[0].code == "out_of_scope"


# --- disability certificates --------------------------------------------------------------
def certificate_row(number: str, name: str, cat: int = 4, lvl: int = 2, **over: Any) -> dict:
    values = {
        "certificate": f"{number}{cat}{lvl}", "name": name, "category": str(cat),
        "level": str(lvl), "issued": dt.date(2020, 5, 1), "valid_until": dt.date(2030, 5, 1),
    }  # fmt: skip
    values.update(over)
    return values


def test_a_certificate_becomes_the_disability_tag_the_rules_read() -> None:
    from jiayuan.policies.matching import match_policy
    from jiayuan.policies.models import Match, Policy

    d = free_dwelling(9)
    write("person", make_run(), person_row(41, d))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(41), purpose="id"))
    run = make_run("t-canji", rank=30, target="disability", name="测试残联")
    # when
    out = write("disability", run, certificate_row(new_id(41), "导入居民41", cat=4, lvl=2))
    # then
    assert out.outcomes == [Outcome.INSERTED], out.problems
    tag = PersonTag.objects.get(person=p, tag__code="残疾人")
    assert tag.attributes["category"] == "肢体" and tag.attributes["grade"] == 2
    assert tag.source == "import" and tag.valid_until == dt.date(2030, 5, 1)
    assert new_id(41) not in str(tag.attributes)
    # the policy engine reads it: 残疾人就医费用减免 (holds a certificate) finds her
    match_policy(Policy.objects.get(code="canji-jiuyi-jianmian"), dt.date(2026, 11, 28))
    assert Match.objects.filter(person=p, policy__code="canji-jiuyi-jianmian").exists()
    # the same certificate again: unchanged; a new level: updated in place
    assert write("disability", run, certificate_row(new_id(41), "导入居民41")).outcomes == [
        Outcome.UNCHANGED
    ]
    assert write("disability", run, certificate_row(new_id(41), "导入居民41", lvl=1)).outcomes == [
        Outcome.UPDATED
    ]
    tag.refresh_from_db()
    assert tag.attributes["grade"] == 1
    assert PersonTag.objects.filter(person=p, tag__code="残疾人").count() == 1


def test_certificates_are_checked_digit_by_digit() -> None:
    d = free_dwelling(10)
    write("person", make_run(), person_row(51, d))
    number = new_id(51)
    run = make_run("t-canji", rank=30, target="disability", name="测试残联")
    out = write(
        "disability", run,
        certificate_row(number, "导入居民51", cat=8),  # category 8 does not exist
        certificate_row(number, "导入居民51", lvl=5),  # level 5 does not exist
        certificate_row(number, "导入居民51", category="视力"),  # the number says 肢体
        certificate_row(number, "导入居民51", level="三级"),  # the number says 2
        certificate_row(number[:-1] + "0" if number[-1] != "0" else number[:-1] + "1", "某人"),
        certificate_row(new_id(52), "没有这个人"),
        {"certificate": "12345", "name": "短"},
    )  # fmt: skip
    assert out.outcomes == [Outcome.REJECTED] * 7
    assert sorted((p.line, p.code) for p in out.problems) == [
        (2, "invalid_category"), (3, "invalid_level"), (4, "category_mismatch"),
        (5, "level_mismatch"), (6, "invalid_certificate"), (7, "unknown_person"),
        (8, "invalid_certificate"),
    ]  # fmt: skip
    assert not PersonTag.objects.filter(person__name="导入居民51", tag__code="残疾人").exists()


# --- through the import engine and the shipped mapping -----------------------------------
def test_a_police_file_imports_end_to_end_and_again_changes_nothing(tmp_path: Any) -> None:
    import csv

    from jiayuan.datahub import engine, sources
    from jiayuan.datahub.models import RejectedRow, ReviewPair

    from .test_resolution import resident_of_grid, typo

    sources.sync()
    stream = sources.pick_stream(sources.get_source("gongan-huji"))
    d = free_dwelling(17)
    twin = resident_of_grid()
    born = dt.date(1962, 4, 5)
    fifteen = new_id(71, born)[:6] + new_id(71, born)[8:17]
    header = ["公民身份号码", "姓名", "性别", "民族", "出生日期", "户号", "与户主关系", "户籍地址",
              "现住址", "户口性质", "注销原因", "注销日期"]  # fmt: skip
    lines = [
        [new_id(70), "文件居民甲", "男", "汉族", "19850601", "F0001", "户主", "汶上县",
         address_of(d), "非农业", "", ""],
        [fifteen, "文件居民乙", "男", "汉族", "", "F0001", "长子", "汶上县", address_of(d),
         "非农业", "", ""],
        ["", typo(twin.name), "", "汉族", f"{twin.birth_date:%Y%m%d}", "", "户主", "",
         address_of(twin.dwelling), "", "", ""],
        [new_id(72)[:-1] + "0", "校验错", "男", "汉族", "", "F0002", "户主", "", address_of(d),
         "", "", ""],
    ]  # fmt: skip
    path = tmp_path / "huji.csv"
    with path.open("w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(lines)
    # when
    run = engine.run(stream, path)
    # then
    assert (run.read, run.inserted, run.review, run.rejected) == (4, 2, 1, 1), run.report_line()
    assert ReviewPair.objects.get(run=run).person_id == twin.pk
    # the mapping refuses the number, the target says why the row cannot be compared
    rejects = set(RejectedRow.objects.filter(run=run).values_list("line", "field", "code"))
    assert rejects == {(5, "id_number", "invalid_id_number"), (5, "id_number", "id_required")}
    son = Person.objects.get(id_number_index=pii.blind_index(new_id(71, born), purpose="id"))
    assert son.relation == "child" and son.household.number == "F0001"
    # the same file again is a no-op
    again = engine.run(stream, path)
    assert again.inserted == again.updated == again.rejected == 0


def test_computed_tags_follow_an_imported_death_and_not_a_new_name() -> None:
    from jiayuan.people.models import Tag

    tags = [t for t in Tag.objects.exclude(rule="") if "deceased" in t.rule]
    held = (
        PersonTag.objects.filter(tag__in=tags, source="rule", valid_until__isnull=True)
        .exclude(person__id_number_enc="")
        .select_related("person", "tag")
        .order_by("pk")
        .first()
    )
    assert held is not None
    p = held.person
    number = p.reveal_id_number()
    # a new name: the rule reads no name, the tag stays and nothing is recomputed
    with CaptureQueriesContext(connection) as ctx:
        write("person", make_run(), {"id_number": number, "name": p.name + "乙"})
    assert not [q for q in ctx.captured_queries if "people_tag" in q["sql"]]
    # a death: the computed tag ends the day the rule stops holding
    write(
        "person", make_run(),
        {"id_number": number, "name": p.name + "乙", "cancel_reason": "死亡",
         "cancel_date": dt.date(2026, 10, 3)},
    )  # fmt: skip
    held.refresh_from_db()
    assert held.valid_until is not None
