"""The transition table drives every action (issue 9): the status after and the step of
each event come from the table alone; outbound messages leave after commit; a finished
device case closes its incident once, as an effect of the action that finished it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.db import transaction

from jiayuan.cases import actions, notify, services
from jiayuan.cases.choices import Status, Step
from jiayuan.cases.machine import OTHER_EVENTS, TRANSITIONS, Outcome, event_kind
from jiayuan.cases.models import Case, CaseEvent
from jiayuan.core.incidents import incident_closed

pytestmark = pytest.mark.django_db
S = Status

HANDLE = [("grid", "accept", {}), ("grid", "start", {})]
REVIEW = [*HANDLE, ("grid", "handle", {"result": "已清运"})]
REPLY = [*REVIEW, ("community", "approve", {})]
# How a case intake dispatched to the ``grid`` worker reaches each source status.
PATHS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    S.RECEIVED: [],  # (filed without auto-dispatch)
    S.DISPATCHED: [],
    S.ACCEPTED: [("grid", "accept", {})],
    S.IN_PROGRESS: HANDLE,
    S.SUSPENDED: [*HANDLE, ("grid", "suspend", {"reason": "等待物业配合"})],
    S.HANDLED: REVIEW,
    S.REPLIED: REPLY,
}
UNSATISFIED = {"satisfaction": "unsatisfied", "comment": "没修好"}
# Each action once, and the action with outcomes once per outcome: (action, outcome,
# the path to its source status, the acting role, parameters).
CASES: list[tuple[str, str, list[tuple[str, str, dict[str, Any]]], str, dict[str, Any]]] = [
    ("dispatch", "", PATHS[S.RECEIVED], "community", {}),
    ("accept", "", PATHS[S.DISPATCHED], "grid", {}),
    ("return", "", PATHS[S.DISPATCHED], "grid", {"reason": "不属于本网格"}),
    ("start", "", PATHS[S.ACCEPTED], "grid", {}),
    ("transfer", "", PATHS[S.IN_PROGRESS], "community", {"reason": "请同事协助"}),
    ("escalate", "", PATHS[S.SUSPENDED], "grid", {"reason": "需要上级协调"}),
    ("suspend", "", PATHS[S.IN_PROGRESS], "grid", {"reason": "等待配件"}),
    ("resume", "", PATHS[S.SUSPENDED], "community", {}),
    ("request_delay", "", PATHS[S.IN_PROGRESS], "grid", {"reason": "配件未到", "minutes": 450}),
    ("approve_delay", "", [*HANDLE, ("grid", "request_delay", {"reason": "配件未到"})],
     "community", {}),
    ("handle", "", PATHS[S.IN_PROGRESS], "grid", {"result": "已处理完毕"}),
    ("approve", "", PATHS[S.HANDLED], "community", {}),
    ("send_back", "", PATHS[S.HANDLED], "community", {"reason": "照片不清楚"}),
    ("visit", "closed", PATHS[S.REPLIED], "reporter", {"satisfaction": "satisfied"}),
    ("visit", "reopened", PATHS[S.REPLIED], "community", UNSATISFIED),
    ("visit", "escalated",
     [*REPLY, ("community", "visit", UNSATISFIED), ("grid", "handle", {"result": "再次清运"}),
      ("community", "approve", {})],
     "reporter", UNSATISFIED),
    ("reject", "", PATHS[S.RECEIVED], "community", {"reason": "不属于受理范围"}),
    ("merge", "", PATHS[S.DISPATCHED], "community", {"into": "<target>"}),
]  # fmt: skip


def test_every_action_and_outcome_is_exercised() -> None:
    assert {action for action, *_ in CASES} == set(TRANSITIONS) == set(actions.APPLY)
    visits = {outcome for action, outcome, *_ in CASES if action == "visit"}
    assert visits == set(TRANSITIONS["visit"].outcomes)


def run(users: dict[str, Any], role: str, case: Case, action: str, params: dict[str, Any]) -> Case:
    if role == "reporter":
        return services.perform(case.pk, action, actor=None, _as_reporter=True, **params)
    return services.perform(case.pk, action, actor=users[role], **params)


def prepared(make_case: Any, users: dict[str, Any], path: list[Any]) -> Case:
    case = make_case(auto_dispatch=path is not PATHS[S.RECEIVED])
    for role, step_action, params in path:
        case = run(users, role, case, step_action, params)
    return case


def own_events(case: Case, since: int) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, pk__gt=since).order_by("pk"))


@pytest.mark.parametrize(
    ("action", "outcome", "path", "role", "params"),
    CASES,
    ids=[f"{a}-{o}" if o else a for a, o, *_ in CASES],
)
def test_status_and_step_come_from_the_table(
    users: dict[str, Any],
    make_case: Any,
    monkeypatch: Any,
    action: str,
    outcome: str,
    path: list[Any],
    role: str,
    params: dict[str, Any],
) -> None:
    # given a case in a source status of the action
    case = prepared(make_case, users, path)
    if params.get("into") == "<target>":
        params = {"into": make_case(description="同一处垃圾，先前已反映").number}
    before = case.status
    assert before in TRANSITIONS[action].sources
    last = CaseEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # and a table whose row names a status and a step no handler could guess: a
    # different target (every outcome's status moved too) and a different step
    real = TRANSITIONS[action]
    decoy_status = S.SUSPENDED if before != S.SUSPENDED else S.ACCEPTED
    decoy = dataclasses.replace(
        real,
        step=Step.REVIEW if real.step != Step.REVIEW else Step.ASK,
        target=decoy_status if real.target is not None else None,
        outcomes={k: Outcome(decoy_status, o.via) for k, o in real.outcomes.items()},
    )
    monkeypatch.setitem(TRANSITIONS, action, decoy)
    # when the action is performed
    case = run(users, role, case, action, params)
    # then the case lands where the (decoy) row says, and its own event has the row's step
    case.refresh_from_db()
    expected = decoy.status_after(before, outcome)
    assert case.status == expected
    events = own_events(case, last)
    assert events[0].action == action
    assert (events[0].step, events[0].public) == (decoy.step, decoy.public)
    assert events[0].from_status == before
    moved_by_follow_up = bool(outcome) and bool(real.outcomes[outcome].via)
    assert events[0].to_status == (before if moved_by_follow_up else expected)
    # and every other event's step is the table's too
    for event in events[1:]:
        kind = event_kind(event.action)
        assert event.step == kind.step
        assert event.to_status == expected
    if moved_by_follow_up:
        assert [e.action for e in events[1:]] == [real.outcomes[outcome].via]


def test_the_real_table_reads_as_the_six_steps(users: dict[str, Any], make_case: Any) -> None:
    # given a case that goes round the loop with the table as it is
    case = make_case()
    for role, action, params in [*REPLY, ("reporter", "visit", {"satisfaction": "satisfied"})]:
        case = run(users, role, case, action, params)
    # then each event carries its row's step: 问 派 办 审 回
    steps = [(e.action, e.step) for e in case.events.order_by("pk")]
    assert steps == [
        ("receive", OTHER_EVENTS["receive"].step),
        ("dispatch", Step.DISPATCH),
        ("accept", Step.DISPATCH),
        ("start", Step.HANDLE),
        ("handle", Step.HANDLE),
        ("approve", Step.REVIEW),
        ("reply", Step.REPLY),
        ("visit", Step.REPLY),
    ]
    assert case.status == S.CLOSED


# --- outbound messages after commit ------------------------------------------------------
class RecordingChannel:
    """An outbound channel that records what it was asked to send (an SMS gateway)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, recipient: str, body: str, case: Case | None) -> bool:
        self.sent.append(body)
        return True


@pytest.fixture
def channel(monkeypatch: Any) -> RecordingChannel:
    recording = RecordingChannel()
    notify.register_channel(recording)
    monkeypatch.setenv("JIAYUAN_NOTIFY_CHANNEL", recording.name)
    return recording


def test_a_rolled_back_action_sends_nothing(
    users: dict[str, Any],
    make_case: Any,
    channel: RecordingChannel,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given a handled case, reviewed by the community
    case = make_case()
    for role, action, params in REVIEW:
        case = run(users, role, case, action, params)
    # when the approval (which tells the reporter) is rolled back by what follows it
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.perform(case.pk, "approve", actor=users["community"])
            raise RuntimeError("a later step of the same request failed")
    # then the reporter was told nothing, and the case is still waiting for review
    assert channel.sent == []
    case.refresh_from_db()
    assert case.status == S.HANDLED
    # when it is approved for good, the message leaves once, after the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.perform(case.pk, "approve", actor=users["community"])
        assert channel.sent == []  # not while the transaction is open
    for callback in callbacks:
        callback()
    assert len(channel.sent) == 1 and case.number in channel.sent[0]


# --- incidents --------------------------------------------------------------------------
def test_finishing_a_device_case_closes_its_incident_once(
    users: dict[str, Any], make_case: Any
) -> None:
    # given a case opened by a device alarm, and someone listening for closed incidents
    heard: list[dict[str, Any]] = []

    def listen(sender: Any, *, key: str, number: str, outcome: str, **_: Any) -> None:
        heard.append({"key": key, "number": number, "outcome": outcome})

    incident_closed.connect(listen, dispatch_uid="test-listen")
    try:
        case = make_case(channel="device", source_ref="alarm:test-incident")
        # when intermediate actions save the case, nothing is closed
        case = run(users, "community", case, "reject", {"reason": "误报"})
        # then the action that finished it closed the incident, once
        assert heard == [{"key": "alarm:test-incident", "number": case.number,
                          "outcome": S.REJECTED}]  # fmt: skip
        # and a later save of the finished case sends nothing more
        case.refresh_from_db()
        case.save()
        case.save(update_fields=["updated_at"])
        assert len(heard) == 1
    finally:
        incident_closed.disconnect(dispatch_uid="test-listen")


def test_an_open_device_case_closes_nothing(users: dict[str, Any], make_case: Any) -> None:
    heard: list[Any] = []

    def listen(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs)

    incident_closed.connect(listen, dispatch_uid="test-listen-open")
    try:
        case = make_case(channel="device", source_ref="alarm:test-open")
        for role, action, params in REVIEW:
            case = run(users, role, case, action, params)
        assert heard == []
    finally:
        incident_closed.disconnect(dispatch_uid="test-listen-open")
