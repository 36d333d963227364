"""The ``benefit`` import target (民政救助): imported benefits are ReceivedBenefit rows
with the source 数据导入, and the matching run then leaves the person alone: a person
who already receives 低保 is not matched again, and an open match closes as 已享受."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.core import idnumber, imports
from jiayuan.core.imports import Context, Outcome, Row
from jiayuan.datahub.models import ImportRun, Source, Stream
from jiayuan.org.models import Area
from jiayuan.people.models import Household, HouseholdTag, Person, Tag
from jiayuan.policies.choices import BenefitSource, CloseReason, MatchStatus
from jiayuan.policies.matching import run_matching
from jiayuan.policies.models import Match, ReceivedBenefit

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 28)
User = get_user_model()


def context(actor: Any = None) -> Context:
    source, _ = Source.objects.get_or_create(
        code="t-jiuzhu",
        defaults={"name": "民政救助", "agency": "民政局", "kind": "xlsx", "rank": 30},
    )
    stream, _ = Stream.objects.get_or_create(
        source=source, name="b", defaults={"target": "benefit"}
    )
    run = ImportRun.objects.create(stream=stream, as_of=DAY)
    return Context(
        run_id=run.pk, source_code=source.code, source_name=source.name, rank=30,
        field_ranks={}, as_of=DAY, actor=actor,
    )  # fmt: skip


def write(*values: dict[str, Any], actor: Any = None) -> Any:
    rows = [Row(line=i + 2, values=v, raw={}, digest=str(i)) for i, v in enumerate(values)]
    return imports.get("benefit").write(context(actor), rows)


def low_income_person(n: int) -> tuple[Person, str]:
    """A resident of the grid worker's grid in a 低收入 household: a 低保 candidate."""
    grid = User.objects.get(username="grid").memberships.get().area
    unit = Area.objects.filter(path__startswith=grid.path, kind="unit").order_by("path").first()
    assert unit is not None
    hh = Household.objects.create(number=f"T-JZ-{n}", area=unit)
    HouseholdTag.objects.create(household=hh, tag=Tag.objects.get(code="低收入"))
    number = idnumber.build("370830", dt.date(1970, 1, 1) + dt.timedelta(days=n), 7, "female")
    p = Person(name=f"救助对象{n}", area=unit, household=hh, hukou_code="370830")
    p.set_id_number(number)
    p.birth_date, p.gender = dt.date(1970, 1, 1) + dt.timedelta(days=n), "female"
    p.save()
    return p, number


def dibao_row(number: str, name: str, **over: Any) -> dict[str, Any]:
    values = {"id_number": number, "name": name, "category": "低保", "persons": 2,
              "monthly_amount": "560.00", "since": dt.date(2025, 1, 1), "until": None,
              "community": ""}  # fmt: skip
    values.update(over)
    return values


def open_dibao(p: Person) -> list[Match]:
    return list(
        Match.objects.filter(
            person=p,
            policy__code="dibao",
            status__in=["upcoming", "pending", "visited", "accepted"],
        )
    )


def test_an_imported_dibao_stops_the_match_and_closes_an_open_one() -> None:
    # given: two 低收入 residents, both matched for 低保 by a full run
    first, first_number = low_income_person(1)
    second, _ = low_income_person(2)
    run_matching(DAY, codes=["dibao"], full=True)
    assert open_dibao(first) and open_dibao(second)
    # when: the civil-affairs list says the first already receives 低保
    out = write(dibao_row(first_number, first.name))
    assert out.outcomes == [Outcome.INSERTED], out.problems
    benefit = ReceivedBenefit.objects.get(person=first, policy__code="dibao")
    assert benefit.source == BenefitSource.IMPORT and benefit.since == dt.date(2025, 1, 1)
    assert benefit.area_path == first.area_path
    # then: the next (incremental) run closes her match as 已享受 and leaves the other
    run = run_matching(DAY + dt.timedelta(days=1), codes=["dibao"])
    assert run.summary["dibao"]["mode"] == "incremental"
    assert not open_dibao(first)
    closed = Match.objects.get(person=first, policy__code="dibao")
    assert closed.status == MatchStatus.CLOSED and closed.close_reason == CloseReason.RECEIVING
    assert open_dibao(second)
    # and a full run does not match her again either
    run_matching(DAY + dt.timedelta(days=2), codes=["dibao"], full=True)
    assert not open_dibao(first)


def test_a_receiver_imported_before_any_run_is_never_matched() -> None:
    p, number = low_income_person(3)
    assert write(dibao_row(number, p.name)).outcomes == [Outcome.INSERTED]
    run_matching(DAY, codes=["dibao"], full=True)
    assert not Match.objects.filter(person=p, policy__code="dibao").exists()
    # the same row again changes nothing; a new end date updates the row in place
    assert write(dibao_row(number, p.name)).outcomes == [Outcome.UNCHANGED]
    out = write(dibao_row(number, p.name, until=dt.date(2027, 1, 1)))
    assert out.outcomes == [Outcome.UPDATED]
    assert ReceivedBenefit.objects.get(person=p, policy__code="dibao").until == dt.date(2027, 1, 1)


def test_rows_that_cannot_be_benefits_are_sent_back_with_reasons() -> None:
    p, number = low_income_person(4)
    stranger = idnumber.build("370830", dt.date(1950, 5, 5), 9, "male")
    out = write(
        dibao_row(number, p.name, category="临时救助"),  # no policy stands for it
        dibao_row(number, p.name, category="困难户"),  # not a category
        dibao_row(stranger, "查无此人"),
        dibao_row(number, "别人的名字"),
        dibao_row(number, p.name, since=dt.date(2026, 1, 1), until=dt.date(2025, 1, 1)),
        dibao_row(number[:-1] + ("0" if number[-1] != "0" else "1"), p.name),
        dibao_row(number, p.name, monthly_amount="很多"),
    )  # fmt: skip
    assert out.outcomes == [Outcome.REJECTED] * 7
    assert sorted((x.line, x.code) for x in out.problems) == [
        (2, "no_policy"), (3, "unknown_category"), (4, "unknown_person"), (5, "name_mismatch"),
        (6, "dates_out_of_order"), (7, "invalid_id_number"), (8, "invalid_number"),
    ]  # fmt: skip
    assert not ReceivedBenefit.objects.filter(person=p).exists()


def test_an_importing_user_records_benefits_only_inside_their_area() -> None:
    p, number = low_income_person(5)
    outsider = (
        Person.objects.exclude(area_path__startswith=p.area_path[:14])
        .exclude(id_number_enc="")
        .first()
    )
    assert outsider is not None
    grid = User.objects.get(username="grid")
    out = write(
        dibao_row(number, p.name),
        dibao_row(outsider.reveal_id_number(), outsider.name),
        actor=grid,
    )
    assert out.outcomes == [Outcome.INSERTED, Outcome.REJECTED]
    assert out.problems[0].code == "out_of_scope"
    assert ReceivedBenefit.objects.get(person=p, policy__code="dibao").recorded_by == grid


def test_persons_and_monthly_amount_are_stored_and_shown() -> None:
    p, number = low_income_person(6)
    out = write(dibao_row(number, p.name, persons="3", monthly_amount="1680.5"))
    assert out.outcomes == [Outcome.INSERTED], out.problems
    benefit = ReceivedBenefit.objects.get(person=p, policy__code="dibao")
    assert (benefit.persons, benefit.monthly_amount) == (3, Decimal("1680.50"))
    # an empty cell keeps the stored value; a new value updates it
    assert write(dibao_row(number, p.name, persons="", monthly_amount=None)).outcomes == [
        Outcome.UNCHANGED
    ]
    assert write(dibao_row(number, p.name, persons=2)).outcomes == [Outcome.UPDATED]
    benefit.refresh_from_db()
    assert (benefit.persons, benefit.monthly_amount) == (2, Decimal("560.00"))
    # a fractional count of persons or a negative amount is sent back
    out = write(dibao_row(number, p.name, persons="2.5"), dibao_row(number, p.name,
                monthly_amount="-1"))  # fmt: skip
    assert [x.code for x in out.problems] == ["invalid_number", "invalid_number"]
    # shown on the person page's policy card and in the API
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    page = admin.get(f"/persons/{p.pk}/").content.decode()
    assert "保障 2 人" in page and "每月 560.00 元" in page
    items = admin.get("/api/v1/benefits", {"person": p.pk}).json()["items"]
    assert [(i["persons"], i["monthly_amount"]) for i in items] == [(2, "560.00")]
