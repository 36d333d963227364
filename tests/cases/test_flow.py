"""The six steps end to end through the action layer."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.models import Case, OutboundMessage
from jiayuan.core.errors import NotFound, PermissionDenied
from jiayuan.core.models import AuditEntry, Notification

pytestmark = pytest.mark.django_db


def test_grid_case_goes_round_the_loop(
    users: dict[str, Any], make_case: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a resident's snapshot in the grid (问), auto-dispatched to its worker (派)
    case = make_case()
    assert case.status == Status.DISPATCHED
    assert case.handler_user == users["grid"]
    assert case.number.startswith("WS")
    assert Notification.objects.filter(
        user=users["grid"], ref=case.number, kind="dispatch"
    ).exists()
    # when the grid worker takes and handles it (办), community reviews (审), resident replies (回)
    services.perform(case.pk, "accept", actor=users["grid"])
    services.perform(case.pk, "start", actor=users["grid"])
    services.perform(case.pk, "handle", actor=users["grid"], result="已联系环卫清运完毕")
    # (the reporter's message leaves once the approval commits)
    with django_capture_on_commit_callbacks(execute=True):
        services.perform(case.pk, "approve", actor=users["community"])
    case = services.visit_by_token(case.tracking_token, "satisfied", "很快")
    # then
    assert case.status == Status.CLOSED
    assert case.closed_level == "grid"
    steps = list(case.events.values_list("step", flat=True))
    for step in ("ask", "dispatch", "handle", "review", "reply"):
        assert step in steps
    assert AuditEntry.objects.for_object(case).filter(action="update").count() == 5
    assert OutboundMessage.objects.filter(case=case, recipient="138****5678").exists()


def test_wrong_role_and_wrong_state_are_refused(users: dict[str, Any], make_case: Any) -> None:
    case = make_case()
    with pytest.raises(PermissionDenied):
        services.perform(case.pk, "approve", actor=users["grid"])
    with pytest.raises(services.TransitionRefused, match="不能执行"):
        services.perform(case.pk, "handle", actor=users["grid"], result="x")


def test_other_grid_cannot_see_or_touch(users: dict[str, Any], make_case: Any, other_grid) -> None:
    case = make_case(grid=other_grid)
    assert not Case.objects.visible_to(users["grid"]).filter(pk=case.pk).exists()
    with pytest.raises(NotFound):
        services.perform(case.pk, "accept", actor=users["grid"])
