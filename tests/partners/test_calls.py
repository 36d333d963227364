"""Open calls: criteria and panel, applications, scores, the exact ranking and the
selection it reproduces, the published result."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.partners import calls
from jiayuan.partners.choices import CallStatus, DocumentKind, Stage
from jiayuan.partners.models import Application, Document

from .projects_world import (
    CRITERIA,
    PDF,
    World,
    apply_all,
    open_call,
    score_all,
    to_call_stage,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db


def closed_call(world: World) -> tuple[Any, list[Application]]:
    project = to_call_stage(world)
    call = open_call(world, project)
    apps = apply_all(world, call)
    calls.close(world.staff, call.pk)
    return call, apps


@pytest.mark.parametrize(
    "criteria",
    [
        [{"label": "方案", "weight": 60}, {"label": "价格", "weight": 39}],
        [{"label": "方案", "weight": 60}, {"label": "价格", "weight": 41}],
        [{"label": "方案", "weight": 0}, {"label": "价格", "weight": 100}],
        [{"label": "方案", "weight": 100.0}],
        [{"label": "方案", "weight": "NaN"}],
        [{"label": "", "weight": 100}],
        [{"key": "a", "label": "x", "weight": 50}, {"key": "a", "label": "y", "weight": 50}],
        [],
        "方案:100",
    ],
)
def test_weights_must_sum_to_100(world: World, criteria: Any) -> None:
    project = to_call_stage(world)
    with pytest.raises(ValidationFailed):
        calls.open_call(
            world.staff, project.pk, title="招募", criteria=criteria,
            closes_at=timezone.now() + dt.timedelta(days=3), panel=[world.staff.pk],
        )  # fmt: skip


def test_a_call_needs_the_call_stage_and_a_panel_that_sees_the_project(
    world: World, users: dict[str, Any]
) -> None:
    from jiayuan.partners import projects

    from .projects_world import proposal

    fresh = projects.propose(world.staff, proposal(world))
    with pytest.raises(Conflict):  # still in 立项
        open_call(world, fresh)
    project = to_call_stage(world, room_id=None, position_id=world.position.pk)
    with pytest.raises(ValidationFailed):  # the grid worker does not see the project
        calls.open_call(
            world.staff, project.pk, title="招募", criteria=CRITERIA,
            closes_at=timezone.now() + dt.timedelta(days=3), panel=[users["grid"].pk],
        )  # fmt: skip
    with pytest.raises(ValidationFailed):  # closing in the past
        calls.open_call(
            world.staff, project.pk, title="招募", criteria=CRITERIA,
            closes_at=timezone.now() - dt.timedelta(minutes=1), panel=[world.staff.pk],
        )  # fmt: skip
    call = open_call(world, project)
    assert [m.pk for m in calls.panel_of(call)] == sorted(r.pk for r in world.reviewers)
    with pytest.raises(Conflict):  # one running call at a time
        open_call(world, project)


def test_applications(world: World) -> None:
    project = to_call_stage(world)
    call = open_call(world, project)
    first = calls.apply(
        world.staff, call.pk, partner_id=world.partners[0].pk, plan="方案", offered_price="15"
    )
    assert first.offered_price == Decimal("15.00")
    with pytest.raises(Conflict):  # one per partner
        calls.apply(
            world.staff, call.pk, partner_id=world.partners[0].pk, plan="再报", offered_price=""
        )
    with pytest.raises(ValidationFailed):  # above the project's cap of 15
        calls.apply(
            world.staff,
            call.pk,
            partner_id=world.partners[1].pk,
            plan="方案",
            offered_price="15.01",
        )
    for hostile in ("-1", "NaN", "1e13"):
        with pytest.raises(ValidationFailed):
            calls.apply(
                world.staff,
                call.pk,
                partner_id=world.partners[1].pk,
                plan="方案",
                offered_price=hostile,
            )
    with pytest.raises(Conflict):  # a dismissed partner
        calls.apply(
            world.staff, call.pk, partner_id=world.dismissed.pk, plan="方案", offered_price="1"
        )
    with pytest.raises(NotFound):  # another community's staff
        calls.apply(
            world.outsider, call.pk, partner_id=world.partners[1].pk, plan="方案", offered_price="1"
        )
    calls.close(world.staff, call.pk)
    with pytest.raises(Conflict):  # closed
        calls.apply(
            world.staff, call.pk, partner_id=world.partners[1].pk, plan="方案", offered_price="1"
        )


def test_scoring_is_for_the_panel_after_the_call_closes(
    world: World, users: dict[str, Any]
) -> None:
    project = to_call_stage(world)
    call = open_call(world, project)
    app = apply_all(world, call)[0]
    full = {"plan": 80, "price": 70, "record": 90}
    with pytest.raises(Conflict):  # still open
        calls.score(world.reviewers[1], app.pk, full)
    calls.close(world.staff, call.pk)
    with pytest.raises(NotFound):
        calls.score(world.outsider, app.pk, full)
    with pytest.raises(PermissionDenied):  # sees it, not on the panel
        calls.score(users["street"], app.pk, full)
    for bad in ({"plan": 80}, {**full, "plan": 101}, {**full, "plan": -1}, {**full, "plan": "NaN"},
                {**full, "extra": 5}, {**full, "plan": 80.123}):  # fmt: skip
        with pytest.raises(ValidationFailed):
            calls.score(world.reviewers[1], app.pk, bad)
    calls.score(world.reviewers[1], app.pk, full)
    calls.score(world.reviewers[1], app.pk, {**full, "plan": 60})  # scoring again replaces
    ranked = calls.ranking(call)
    assert ranked[0].scores[world.reviewers[1].pk]["plan"] == Decimal(60)


def test_the_scores_of_an_open_call_reproduce_the_selection(world: World) -> None:
    # given three applications scored by three reviewers (means that are not decimals)
    call, apps = closed_call(world)
    a, b, c = (x.pk for x in apps)
    score_all(world, call, {
        a: [{"plan": 80, "price": 90, "record": 70}, {"plan": 81, "price": 90, "record": 70},
            {"plan": 80, "price": 90, "record": 70}],
        b: [{"plan": 90, "price": 80, "record": 75}, {"plan": 90, "price": 80, "record": 75},
            {"plan": 91, "price": 80, "record": 75}],
        c: [{"plan": 70, "price": 70, "record": 70}] * 3,
    })  # fmt: skip

    # when the ranking is computed, then it is Σ weight × mean / 100, exactly
    ranked = calls.ranking(call)
    expected = {
        a: Fraction(40) * Fraction(241, 3) / 100 + Fraction(30 * 90 + 30 * 70, 100),
        b: Fraction(40) * Fraction(271, 3) / 100 + Fraction(30 * 80 + 30 * 75, 100),
        c: Fraction(70),
    }
    assert {r.application.pk: r.total for r in ranked} == expected
    assert [r.application.pk for r in ranked] == [b, a, c]
    assert ranked[0].total_decimal == Decimal("82.63")

    # and the selection is the top one
    calls.select(world.staff, call.pk)
    call.refresh_from_db()
    assert call.selected_id == b


def test_ties_go_to_the_earlier_submission(world: World) -> None:
    call, apps = closed_call(world)
    same = {"plan": 80, "price": 80, "record": 80}
    score_all(world, call, {x.pk: [same] * 3 for x in apps})
    assert [r.application.pk for r in calls.ranking(call)] == [x.pk for x in apps]
    calls.select(world.staff, call.pk)
    call.refresh_from_db()
    assert call.selected_id == apps[0].pk


def test_another_than_the_top_needs_reasons_and_complete_scores(world: World) -> None:
    call, apps = closed_call(world)
    high, low = {"plan": 90, "price": 90, "record": 90}, {"plan": 60, "price": 60, "record": 60}
    score_all(world, call, {apps[0].pk: [high] * 3, apps[1].pk: [low] * 3})
    with pytest.raises(Conflict):  # the third application is not scored yet
        calls.select(world.staff, call.pk)
    score_all(world, call, {apps[2].pk: [low] * 3})
    with pytest.raises(PermissionDenied):  # a panel member without SUPERVISE
        from .projects_world import staff_user

        calls.select(staff_user("head_like", world.community, role="three_head"), call.pk)
    with pytest.raises(ValidationFailed):
        calls.select(world.staff, call.pk, application_id=apps[1].pk)
    calls.select(world.staff, call.pk, application_id=apps[1].pk, reasons="本地合作社，服务更稳定")
    call.refresh_from_db()
    assert (call.selected_id, call.reasons) == (apps[1].pk, "本地合作社，服务更稳定")
    with pytest.raises(Conflict):  # scores are closed once selected
        calls.score(world.reviewers[0], apps[0].pk, high)


def test_publishing_files_the_result(world: World) -> None:
    call, apps = closed_call(world)
    with pytest.raises(Conflict):  # nothing selected yet
        calls.publish(world.staff, call.pk, PDF)
    same = {"plan": 80, "price": 80, "record": 80}
    score_all(world, call, {x.pk: [same] * 3 for x in apps})
    calls.select(world.staff, call.pk)
    document = calls.publish(world.staff, call.pk, PDF)
    call.refresh_from_db()
    assert call.status == CallStatus.PUBLISHED and call.published_at is not None
    assert (document.kind, document.stage) == (DocumentKind.RESULT, Stage.CALL)
    assert Document.objects.filter(project=call.project, kind=DocumentKind.RESULT).count() == 1
    with pytest.raises(Conflict):
        calls.publish(world.staff, call.pk, PDF)
    with pytest.raises(Conflict):
        calls.select(world.staff, call.pk)
