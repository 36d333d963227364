"""Acceptance 1: every allowed transition works and every disallowed one is refused with
a clear message, for each role.

The matrix runs every action of the table from every status for every role. A case in
each status is built by driving :func:`services.perform` from intake. What each role is
to the case is stated here by hand (not read from ``services.relations``), and the
expected outcome follows from the transition table alone:

* out of the user's scope → ``NotFound`` (404);
* in scope but the role is not among the action's ``who`` → ``PermissionDenied`` (403);
* the right role in the wrong state → ``TransitionRefused`` (409);
* otherwise the action succeeds, lands in its target status and writes a timeline event of
  the table's step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from jiayuan.cases import services
from jiayuan.cases.choices import Status
from jiayuan.cases.machine import TRANSITIONS, allowed
from jiayuan.cases.models import Case, CaseEvent, Category
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()
S = Status

# How each case is brought into a status, from a 垃圾清运 (0201, grid level) case that
# intake dispatched to the ``grid`` worker: (role, action, params) steps.
PATHS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    S.RECEIVED: [],  # filed without auto-dispatch: nobody holds it yet
    S.DISPATCHED: [],
    S.ACCEPTED: [("grid", "accept", {})],
    S.IN_PROGRESS: [("grid", "accept", {}), ("grid", "start", {})],
    S.SUSPENDED: [
        ("grid", "accept", {}),
        ("grid", "start", {}),
        ("grid", "suspend", {"reason": "等待物业配合"}),
    ],
    S.HANDLED: [
        ("grid", "accept", {}),
        ("grid", "start", {}),
        ("grid", "handle", {"result": "已清运"}),
    ],
    S.REPLIED: [
        ("grid", "accept", {}),
        ("grid", "start", {}),
        ("grid", "handle", {"result": "已清运"}),
        ("community", "approve", {}),
    ],
    S.CLOSED: [
        ("grid", "accept", {}),
        ("grid", "start", {}),
        ("grid", "handle", {"result": "已清运"}),
        ("community", "approve", {}),
        ("reporter", "visit", {"satisfaction": "satisfied"}),
    ],
    S.REJECTED: [("community", "reject", {"reason": "不属于受理范围"})],
    S.MERGED: [("community", "merge", {"into": "<target>"})],
}
assert set(PATHS) == set(Status.values), "every status is reached"

# grid: the grid worker who holds the case (from dispatch on); community: community staff
# (supervisor); other_grid: the worker of another grid; resident: a logged-in resident
# (no area rights, acts through the link only); reporter: the tracking link; system: jobs.
ROLES = ("grid", "community", "other_grid", "resident", "reporter", "system")
OUT_OF_SCOPE = {"other_grid", "resident"}


def relations_of(role: str, status: str) -> set[str]:
    """What ``role`` is to a case in ``status`` built by PATHS (stated by hand)."""
    if role == "grid":
        return set() if status == S.RECEIVED else {"handler"}
    return {"community": {"supervisor"}, "reporter": {"reporter"}, "system": {"system"}}[role]


def params_for(action: str, ctx: dict[str, Any]) -> dict[str, Any]:
    """Valid parameters of every action, so that only role and state decide."""
    return {
        "dispatch": {},
        "accept": {},
        "return": {"reason": "不属于本网格"},
        "start": {},
        "transfer": {"reason": "请同事协助", "handler_id": ctx["colleague"].pk},
        "escalate": {"reason": "需要上级协调"},
        "suspend": {"reason": "等待配件"},
        "resume": {},
        "request_delay": {"reason": "配件未到", "minutes": 450},
        "approve_delay": {},
        "handle": {"result": "已处理完毕"},
        "approve": {},
        "send_back": {"reason": "照片不清楚"},
        "visit": {"satisfaction": "satisfied", "comment": "好"},
        "reject": {"reason": "重复反映"},
        "merge": {"into": ctx["target"].number},
    }[action]


def add_user(username: str, area: Area, role: str) -> Any:
    user = User.objects.create_user(username=username)
    Membership.objects.create(user=user, area=area, role=role)
    return user


def new_case(grid: Area, **kw: Any) -> Case:
    return services.intake(
        actor=None,
        channel="snapshot",
        category=Category.objects.get(code="0201"),
        description=kw.pop("description", "楼下垃圾三天没人清运"),
        lat=grid.centroid_lat,
        lng=grid.centroid_lng,
        reporter_name="王女士",
        reporter_phone="13812345678",
        **kw,
    )


def run(ctx: dict[str, Any], role: str, case: Case, action: str, params: dict[str, Any]) -> Case:
    """Take ``action`` as ``role``: users act as themselves, the reporter through the
    tracking link's path (actor None, reporter only), the system as actor None."""
    if role == "reporter":
        return services.perform(case.pk, action, actor=None, _as_reporter=True, **params)
    actor = None if role == "system" else ctx[role]
    return services.perform(case.pk, action, actor=actor, **params)


def build(ctx: dict[str, Any], status: str) -> Case:
    case = new_case(ctx["own_grid"], auto_dispatch=status != S.RECEIVED)
    for role, action, params in PATHS[status]:
        if params.get("into") == "<target>":
            params = {"into": ctx["target"].number}
        case = run(ctx, role, case, action, params)
    case.refresh_from_db()
    assert case.status == status
    return case


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The actors and one case in every status, built once for the module inside a
    transaction that is rolled back at its end; each test runs in a savepoint of it.

    (Building ~10 cases for each of the ~1,000 combinations would take minutes.)
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            found: dict[str, Any] = {u.username: u for u in User.objects.all()}
            own_grid = found["grid"].memberships.get().area
            other_grid = Area.objects.filter(kind="grid").exclude(pk=own_grid.pk)[0]
            found["own_grid"] = own_grid
            found["other_grid"] = add_user("grid_other", other_grid, Role.GRID_WORKER)
            found["colleague"] = add_user("grid_colleague", own_grid, Role.GRID_WORKER)
            found["target"] = new_case(own_grid, description="同一处垃圾，先前已反映")
            found["cases"] = {status: build(found, status).pk for status in Status.values}
            yield found
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def ctx(world: dict[str, Any]) -> dict[str, Any]:
    return world


def case_in(ctx: dict[str, Any], status: str) -> Case:
    return Case.objects.get(pk=ctx["cases"][status])


def expected(role: str, status: str, action: str) -> type[BilingualError] | str:
    """The error class, or the status the case lands in."""
    transition = TRANSITIONS[action]
    if role in OUT_OF_SCOPE:
        return NotFound
    if not transition.who & relations_of(role, status):
        return PermissionDenied
    if status not in transition.sources:
        return services.TransitionRefused
    if transition.target is not None:
        return transition.target
    return S.CLOSED if action == "visit" else status  # delays keep the status


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("status", Status.values)
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_transition_matrix(ctx: dict[str, Any], action: str, status: str, role: str) -> None:
    # given a case in ``status``
    case = case_in(ctx, status)
    outcome = expected(role, status, action)
    if action == "approve_delay" and isinstance(outcome, str):
        run(ctx, "grid", case, "request_delay", {"reason": "配件未到", "minutes": 450})
        case.refresh_from_db()
    events_before = case.events.count()
    version_before = case.version
    params = params_for(action, ctx)
    label = TRANSITIONS[action].label
    if isinstance(outcome, str):
        # when an allowed action is taken, then it lands where the table says
        result = run(ctx, role, case, action, params)
        result.refresh_from_db()
        assert result.status == outcome
        assert result.version == version_before + 1
        new = CaseEvent.objects.filter(case=case).order_by("id")[events_before:]
        assert (action, TRANSITIONS[action].step) in [(e.action, e.step) for e in new]
        assert AuditEntry.objects.for_object(case).filter(note__startswith=f"{action}:").exists()
    else:
        # when a refused action is tried, then the right error says why, and nothing changes
        with pytest.raises(outcome) as caught:
            run(ctx, role, case, action, params)
        error = caught.value
        assert type(error) is outcome
        assert error.status == {NotFound: 404, PermissionDenied: 403}.get(outcome, 409)
        if outcome is services.TransitionRefused:
            assert f"当前状态「{Status(status).label}」不能执行「{label}」" in error.zh
            assert f"'{action}' is not allowed while the case is {status}" in error.en
        elif outcome is PermissionDenied:
            assert f"不能对该诉求执行「{label}」" in error.zh
        else:
            assert error.zh == "诉求不存在"
        case.refresh_from_db()
        assert (case.status, case.version) == (status, version_before)
        assert case.events.count() == events_before


def test_matrix_covers_every_allowed_pair() -> None:
    # Each (status, action) pair the table allows is reached by some role in the matrix.
    reachable = {
        (status, t.action)
        for status in Status.values
        for role in ROLES
        if role not in OUT_OF_SCOPE
        for t in allowed(status, relations_of(role, status))
    }
    table = {(s, a) for a, t in TRANSITIONS.items() for s in t.sources}
    assert table - reachable == set()


def test_available_actions_match_the_table(ctx: dict[str, Any]) -> None:
    # The actions offered to each role are exactly the ones the matrix lets it take.
    for status in (S.DISPATCHED, S.IN_PROGRESS, S.HANDLED, S.REPLIED):
        case = case_in(ctx, status)
        for role in ("grid", "community"):
            offered = {t.action for t in services.available_actions(ctx[role], case)}
            succeeding = {a for a in TRANSITIONS if isinstance(expected(role, status, a), str)}
            assert offered == succeeding, (status, role)


def test_reporter_link_acts_as_reporter_only(ctx: dict[str, Any]) -> None:
    # The tracking link may answer the return visit, never act as the system (dispatch).
    received = case_in(ctx, S.RECEIVED)
    with pytest.raises(PermissionDenied):
        services.perform(received.pk, "dispatch", actor=None, _as_reporter=True)
    replied = case_in(ctx, S.REPLIED)
    assert services.visit_by_token(replied.tracking_token, "basic").status == S.CLOSED


def test_refused_reason_is_required(ctx: dict[str, Any]) -> None:
    case = case_in(ctx, S.DISPATCHED)
    with pytest.raises(services.ValidationFailed, match="请填写原因") as caught:
        services.perform(case.pk, "return", actor=ctx["grid"], reason="  ")
    assert caught.value.field == "reason"
    assert caught.value.status == 422


def test_approve_delay_without_a_request_is_refused(ctx: dict[str, Any]) -> None:
    case = case_in(ctx, S.IN_PROGRESS)
    with pytest.raises(services.TransitionRefused, match="没有待审批的延期申请"):
        services.perform(case.pk, "approve_delay", actor=ctx["community"])
