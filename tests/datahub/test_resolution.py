"""Entity resolution: rows without a usable ID number are compared within the
community's blocks, held for review above the threshold (never merged by themselves),
refused below it; merge, distinct and undo are a person's decisions, and a merge
undone leaves the resident exactly as before."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core import pii
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied
from jiayuan.core.imports import Outcome
from jiayuan.datahub import provenance, resolution
from jiayuan.datahub.models import FieldChange, ReviewPair, ReviewStatus, SourceValues
from jiayuan.datahub.writers.places import community_of
from jiayuan.org.models import Dwelling
from jiayuan.people.models import Person

from .test_writers import address_of, make_run, write

pytestmark = pytest.mark.django_db
User = get_user_model()


def resident_of_grid() -> Person:
    """A seeded resident with a three-character name, living in the grid worker's grid."""
    grid = User.objects.get(username="grid").memberships.get().area
    for p in Person.objects.filter(
        area_path__startswith=grid.path, dwelling__isnull=False, birth_date__isnull=False
    ).order_by("pk"):
        if len(p.name) == 3:
            return p
    raise AssertionError("no three-character name in the grid")


def typo(name: str) -> str:
    return name[:2] + ("明" if name[2] != "明" else "亮")


def row_for(p: Person, dwelling: Dwelling, **over: Any) -> dict[str, Any]:
    values = {"id_number": "", "name": typo(p.name), "birth_date": p.birth_date,
              "address": address_of(dwelling), "ethnicity": "回族"}  # fmt: skip
    values.update(over)
    return values


def state(p: Person) -> dict[str, Any]:
    row = Person.objects.filter(pk=p.pk).values().get()
    row.pop("updated_at")
    return row


def test_a_typoed_name_in_the_same_community_is_held_for_review_not_merged() -> None:
    p = resident_of_grid()
    before = state(p)
    run = make_run()
    # when
    out = write("person", run, row_for(p, p.dwelling))
    # then
    assert out.outcomes == [Outcome.REVIEW] and out.problems == []
    pair = ReviewPair.objects.get(run=run)
    assert pair.person_id == p.pk and pair.status == ReviewStatus.PENDING
    assert pair.score >= resolution.REVIEW_THRESHOLD and pair.area_path == p.area_path
    assert pair.details["name"]["existing"] == p.name and pair.details["birth_date"]["score"] == 1
    assert pair.details["address"]["score"] == 1.0
    # nothing merged by itself
    assert state(p) == before
    assert not SourceValues.objects.filter(object_id=p.pk, source__code="t-huji").exists()


def test_the_same_row_in_another_community_finds_nobody() -> None:
    p = resident_of_grid()
    elsewhere = Dwelling.objects.exclude(area_path__startswith=community_of(p.area_path)).first()
    assert elsewhere is not None
    out = write("person", make_run(), row_for(p, elsewhere))
    assert out.outcomes == [Outcome.REJECTED]
    assert out.problems[0].code == "no_match"
    assert not ReviewPair.objects.filter(person=p).exists()


def test_an_unlike_row_is_refused_and_a_row_without_community_cannot_be_compared() -> None:
    p = resident_of_grid()
    out = write(
        "person", make_run(),
        row_for(p, p.dwelling, name="欧阳娜娜", birth_date=dt.date(1931, 2, 3)),
        row_for(p, p.dwelling, address="某某路88号"),
        {"id_number": "", "name": p.name},
    )  # fmt: skip
    assert out.outcomes == [Outcome.REJECTED] * 3
    assert [x.code for x in sorted(out.problems, key=lambda x: x.line)] == [
        "no_match", "unknown_place", "id_required",
    ]  # fmt: skip


def test_an_invalid_number_with_name_and_birth_date_goes_to_resolution() -> None:
    p = resident_of_grid()
    out = write("person", make_run(), row_for(p, p.dwelling, id_number="37083019990101001X"))
    assert out.outcomes == [Outcome.REVIEW]
    pair = ReviewPair.objects.get(person=p)
    assert pair.incoming["id_raw"] == pii.mask_id_number("37083019990101001X")
    assert "37083019990101001X" not in str(pair.incoming) + str(pair.details)


def test_scores_name_typos_birth_dates_and_addresses() -> None:
    assert resolution.name_score("张伟明", "张伟明") == 1
    assert resolution.name_score("张伟明", "张为明") == 0.95  # same pinyin
    assert resolution.name_score("张伟明", "李秀英") < 0.3
    d = dt.date(1960, 3, 12)
    assert resolution.birth_score(d, d) == 1
    assert resolution.birth_score(d, dt.date(1960, 12, 3)) == 0.8  # swapped
    assert resolution.birth_score(d, dt.date(1960, 3, 13)) == 0.8  # one digit
    assert resolution.birth_score(d, dt.date(1960, 7, 28)) == 0.4
    assert resolution.birth_score(d, dt.date(1971, 7, 28)) == 0


def stored_rows(p: Person) -> list[dict[str, Any]]:
    return list(SourceValues.objects.filter(object_id=p.pk).order_by("pk").values())


def test_merge_applies_by_rank_and_undo_restores_exactly() -> None:
    p = resident_of_grid()
    before = state(p)
    values_before = stored_rows(p)
    run = make_run()
    write("person", run, row_for(p, p.dwelling))
    pair = ReviewPair.objects.get(run=run)
    grid = User.objects.get(username="grid")
    # when: merged
    resolution.merge(grid, pair.pk)
    # then: the row's values are the resident's (the only, so the highest, source)
    merged = Person.objects.get(pk=p.pk)
    assert merged.name == typo(p.name) and merged.ethnicity == "回族"
    changes = FieldChange.objects.filter(object_id=p.pk)
    assert {c.field for c in changes} >= {"name", "ethnicity"}
    assert all(c.actor_id == grid.pk and c.run_id == run.pk for c in changes)
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.MERGED and pair.decided_by_id == grid.pk
    with pytest.raises(Conflict):
        resolution.merge(grid, pair.pk)
    # when: undone
    resolution.undo(grid, pair.pk)
    # then: exactly as before, values and provenance, and the undo is in the history
    assert state(p) == before
    assert (
        list(SourceValues.objects.filter(object_id=p.pk).order_by("pk").values()) == values_before
    )
    assert FieldChange.objects.filter(object_id=p.pk, new=p.name, field="name").exists()
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.UNDONE


def test_undo_of_a_merge_recorded_per_field_restores_too() -> None:
    # given: a merge whose undo information lists the provenance one item per field,
    # as merges decided before provenance was kept per record and source saved it
    p = resident_of_grid()
    grid = User.objects.get(username="grid")
    survey = make_run("t-caiji", rank=10, name="网格采集")
    write("person", survey, row_for(p, p.dwelling, ethnicity="满族"))
    resolution.merge(grid, ReviewPair.objects.get(run=survey).pk)
    rows_before = stored_rows(p)
    assert rows_before  # the survey's values
    run = make_run()
    write("person", run, row_for(p, p.dwelling))
    pair = ReviewPair.objects.get(run=run)
    resolution.merge(grid, pair.pk)
    pair.refresh_from_db()
    per_field = [
        {"pk": 0, "field": name, "source_id": item["source_id"], "value": value, "rank": rank,
         "as_of": as_of, "run_id": run_id, "current": current, "recorded_at": at}
        for item in pair.undo["field_values"]
        for name, (value, rank, as_of, run_id, current, at) in provenance.unpacked(item["data"])
    ]  # fmt: skip
    assert len(per_field) > 1
    ReviewPair.objects.filter(pk=pair.pk).update(undo={**pair.undo, "field_values": per_field})
    assert stored_rows(p) != rows_before
    # when
    resolution.undo(grid, pair.pk)
    # then
    assert stored_rows(p) == rows_before


def test_undo_refuses_when_the_resident_changed_since() -> None:
    p = resident_of_grid()
    run = make_run()
    write("person", run, row_for(p, p.dwelling))
    pair = ReviewPair.objects.get(run=run)
    grid = User.objects.get(username="grid")
    resolution.merge(grid, pair.pk)
    Person.objects.filter(pk=p.pk).update(name="又改了名")
    with pytest.raises(Conflict):
        resolution.undo(grid, pair.pk)


def test_distinct_inserts_the_row_as_a_new_resident() -> None:
    p = resident_of_grid()
    run = make_run()
    write("person", run, row_for(p, p.dwelling, hukou_no="TD0001"))
    pair = ReviewPair.objects.get(run=run)
    resolution.distinct(User.objects.get(username="grid"), pair.pk)
    pair.refresh_from_db()
    new = Person.objects.get(pk=pair.undo["created"])
    assert new.pk != p.pk and new.name == typo(p.name) and new.dwelling_id == p.dwelling_id
    assert new.id_number_index == "" and new.household.number == "TD0001"
    assert Person.objects.get(pk=p.pk).name == p.name


def test_reviewers_see_their_area_and_need_the_change_permission() -> None:
    p = resident_of_grid()
    run = make_run()
    write("person", run, row_for(p, p.dwelling))
    pair = ReviewPair.objects.get(run=run)
    # a resident sees no pair at all
    resident = User.objects.get(username="resident")
    assert not resolution.visible_pairs(resident).exists()
    with pytest.raises(NotFound):
        resolution.merge(resident, pair.pk)
    # the branch secretary sees it (the zone) but may not decide
    branch = User.objects.get(username="branch")
    if resolution.visible_pairs(branch).filter(pk=pair.pk).exists():
        with pytest.raises(PermissionDenied):
            resolution.distinct(branch, pair.pk)
    pair.refresh_from_db()
    assert pair.status == ReviewStatus.PENDING
