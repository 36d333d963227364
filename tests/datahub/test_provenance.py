"""Field provenance: conflicting sources resolve by rank (then as-of date), the losing
values stay visible, every change of a held value has its history row, and the person
page shows it all in the 数据来源 card."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from jiayuan.core import pii
from jiayuan.core.imports import Outcome
from jiayuan.datahub import provenance
from jiayuan.datahub.models import FieldChange, Source, SourceValues
from jiayuan.people.models import Person

from .test_writers import free_dwelling, make_run, new_id, person_row, write

pytestmark = pytest.mark.django_db


def values(person: Person, field: str) -> list[provenance.Stored]:
    return [fv for fv in provenance.values_of("person", person.pk) if fv.field == field]


def held(person: Person, field: str) -> provenance.Stored:
    (found,) = [fv for fv in values(person, field) if fv.current]
    return found


def source_of(fv: provenance.Stored) -> str:
    return Source.objects.get(pk=fv.source_id).code


def test_a_lower_rank_never_overwrites_and_its_value_stays_visible() -> None:
    # given: the police (rank 40) register the person
    d = free_dwelling(12)
    police = make_run("t-gongan", rank=40, name="公安户籍", as_of=dt.date(2026, 10, 1))
    write("person", police, person_row(61, d, ethnicity="汉族"))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(61), purpose="id"))
    # when: a community survey (rank 10), later, says another ethnicity and name
    survey = make_run("t-caiji", rank=10, name="网格采集", as_of=dt.date(2026, 11, 20))
    out = write(
        "person", survey, {"id_number": new_id(61), "name": "导入居民六一", "ethnicity": "回族"}
    )
    # then: the record keeps the police values; the survey's are stored, not current
    assert out.outcomes == [Outcome.UNCHANGED]
    p.refresh_from_db()
    assert (p.name, p.ethnicity) == ("导入居民61", "汉族")
    assert source_of(held(p, "ethnicity")) == "t-gongan"
    (losing,) = [fv for fv in values(p, "ethnicity") if source_of(fv) == "t-caiji"]
    assert losing.value == "回族" and not losing.current and losing.rank == 10
    assert not FieldChange.objects.filter(object_id=p.pk, field="ethnicity").exists()


def test_a_higher_rank_wins_and_equal_ranks_take_the_later_as_of_with_history() -> None:
    d = free_dwelling(13)
    survey = make_run("t-caiji", rank=10, name="网格采集", as_of=dt.date(2026, 9, 1))
    write("person", survey, person_row(62, d, ethnicity="满族"))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(62), purpose="id"))
    # the police outrank the survey: their value is taken, with a history row
    police = make_run("t-gongan", rank=40, name="公安户籍", as_of=dt.date(2026, 8, 1))
    out = write(
        "person", police, {"id_number": new_id(62), "name": "导入居民62", "ethnicity": "汉族"}
    )
    assert out.outcomes == [Outcome.UPDATED]
    p.refresh_from_db()
    assert p.ethnicity == "汉族"
    change = FieldChange.objects.get(object_id=p.pk, field="ethnicity")
    assert (change.old, change.new, change.source.code, change.run_id) == (
        "满族", "汉族", "t-gongan", police.pk,
    )  # fmt: skip
    # an older police extract with another value does not beat the newer one
    older = make_run("t-gongan-2", rank=40, name="公安户籍（旧）", as_of=dt.date(2026, 1, 1))
    write("person", older, {"id_number": new_id(62), "name": "导入居民62", "ethnicity": "蒙古族"})
    p.refresh_from_db()
    assert p.ethnicity == "汉族"
    # a newer one of the same rank does
    newer = make_run("t-gongan-3", rank=40, name="公安户籍（新）", as_of=dt.date(2026, 11, 30))
    write("person", newer, {"id_number": new_id(62), "name": "导入居民62", "ethnicity": "回族"})
    p.refresh_from_db()
    assert p.ethnicity == "回族"
    history = list(
        FieldChange.objects.filter(object_id=p.pk, field="ethnicity")
        .order_by("at", "id")
        .values_list("old", "new")
    )
    assert history == [("满族", "汉族"), ("汉族", "回族")]
    assert [fv.value for fv in values(p, "ethnicity") if fv.current] == ["回族"]


def test_a_field_rank_overrides_the_source_rank() -> None:
    d = free_dwelling(14)
    police = make_run("t-gongan", rank=40, name="公安户籍")
    write("person", police, person_row(63, d))
    # the survey is trusted more than the police on the current address only
    survey = make_run("t-caiji-addr", rank=10, name="网格采集", field_ranks={"address": 50})
    other = free_dwelling(15)
    from .test_writers import address_of

    write(
        "person", survey,
        {"id_number": new_id(63), "name": "导入居民63", "address": address_of(other),
         "ethnicity": "回族"},
    )  # fmt: skip
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(63), purpose="id"))
    assert p.dwelling_id == other.pk and p.ethnicity == "汉族"


def test_the_person_page_shows_held_and_losing_values_and_the_history(client: Client) -> None:
    d = free_dwelling(16)
    police = make_run("t-gongan", rank=40, name="公安户籍")
    write("person", police, person_row(64, d, ethnicity="汉族"))
    survey = make_run("t-caiji", rank=10, name="网格采集<b>")
    write("person", survey, {"id_number": new_id(64), "name": "导入居民64", "ethnicity": "回族"})
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(64), purpose="id"))
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(f"/persons/{p.pk}/").content.decode()
    assert 'data-testid="source-panel"' in page
    assert "回族" in page and "网格采集&lt;b&gt;" in page and "网格采集<b>" not in page
    assert pii.mask_id_number(new_id(64)) in page and new_id(64) not in page


def test_a_source_resending_one_field_keeps_the_other_fields_dates() -> None:
    # given: the police register the person on 1 October
    d = free_dwelling(17)
    first = make_run("t-gongan", rank=40, name="公安户籍", as_of=dt.date(2026, 10, 1))
    write("person", first, person_row(65, d, ethnicity="汉族"))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(65), purpose="id"))
    # when: a later extract of the same source changes the ethnicity only
    later = first.stream.runs.create(as_of=dt.date(2026, 11, 1))
    write("person", later, {"id_number": new_id(65), "name": "导入居民65", "ethnicity": "回族"})
    # then: the record's one row of that source dates each field by its own extract
    assert (held(p, "ethnicity").as_of, held(p, "ethnicity").run_id) == (
        dt.date(2026, 11, 1), later.pk,
    )  # fmt: skip
    kept = held(p, "hukou_address")  # not in the later extract
    assert (kept.as_of, kept.run_id) == (dt.date(2026, 10, 1), first.pk)
    (row,) = SourceValues.objects.filter(entity="person", object_id=p.pk)
    assert row.data[provenance.SHARED][:2] == ["2026-11-01", later.pk]
    assert len(row.data["ethnicity"]) == 3 and len(row.data["hukou_address"]) == 6
