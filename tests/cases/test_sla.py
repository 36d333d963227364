"""SLA on working time across the 2026 National Day holiday, pause and resume, traffic
lights, and the overdue escalation job (acceptance 2).

All times are explicit (received_at= / now=), so the tests do not depend on the day
they run. Working hours: 8:30–12:00 and 13:30–17:30, 450 minutes a day. Category 0201
(垃圾清运, grid level): dispatch 60, accept 120, handle 450 and total 2,250 working
minutes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from jiayuan.cases import escalation, services
from jiayuan.cases.choices import Level, Light, Status
from jiayuan.cases.models import Case, CaseEvent
from jiayuan.cases.sla import light_for
from jiayuan.cases.tasks import escalate_overdue
from jiayuan.core.calendar import WorkClock
from jiayuan.core.models import AuditEntry, Notification

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


def events(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("id").values_list("action", flat=True))


# --- the calendar the clocks stand on --------------------------------------------------------
def test_national_day_2026_as_the_calendar_package_publishes_it() -> None:
    # 1–7 Oct off; Sun 20 Sep and Sat 10 Oct are make-up working days (调休上班).
    for day in range(1, 8):
        assert not chinese_calendar.is_workday(dt.date(2026, 10, day))
    assert chinese_calendar.is_workday(dt.date(2026, 9, 30))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))  # Saturday
    assert not chinese_calendar.is_workday(dt.date(2026, 10, 11))  # Sunday
    assert chinese_calendar.is_workday(dt.date(2026, 9, 20))  # Sunday


# --- due times --------------------------------------------------------------------------------
def test_due_times_of_a_case_received_the_afternoon_before_national_day(make_case: Any) -> None:
    # given a case received on Wed 30 Sep 2026 at 16:00, auto-dispatched at once
    case = make_case(received_at=at(9, 30, 16))
    # then the accept stage (120 min) has 90 min on 30 Sep and 30 min after the holiday
    assert case.status == Status.DISPATCHED
    assert case.stage_due_at == at(10, 8, 9)
    # and the total (2,250 min): 90 on 30 Sep, 450 each on 8, 9, 10 (Sat, make-up) and
    # 12 Oct, 360 on 13 Oct (210 in the morning + 150 after lunch)
    assert case.due_at == at(10, 13, 16)
    assert case.dispatched_on_time is True


def test_the_make_up_saturday_counts_and_the_holiday_does_not(
    users: dict[str, Any], make_case: Any
) -> None:
    case = make_case(received_at=at(9, 30, 16))
    # when the grid worker accepts on Fri 9 Oct at 15:00
    case = services.perform(case.pk, "accept", actor=users["grid"], now=at(10, 9, 15))
    # then the handle stage (450 min) runs 150 on Friday, 210 + 90 on Sat 10 Oct
    assert case.stage_due_at == at(10, 10, 15)
    assert case.stage_due_at.astimezone(TZ).weekday() == 5


def test_a_case_received_during_the_holiday_starts_counting_on_8_october(
    make_case: Any,
) -> None:
    case = make_case(received_at=at(10, 3, 10), auto_dispatch=False)
    assert case.status == Status.RECEIVED
    assert case.stage_due_at == at(10, 8, 9, 30)  # 60 min from 8:30
    assert case.due_at == at(10, 13, 17, 30)  # exactly five working days: 8, 9, 10, 12, 13


def test_a_late_dispatch_is_recorded_as_not_on_time(users: dict[str, Any], make_case: Any) -> None:
    case = make_case(received_at=at(9, 30, 16), auto_dispatch=False)
    case = services.perform(case.pk, "dispatch", actor=users["community"], now=at(9, 30, 17, 5))
    assert case.dispatched_on_time is False
    assert case.status == Status.DISPATCHED


# --- pause and resume ----------------------------------------------------------------------
def test_suspend_and_resume_shift_stage_and_total_due_times_by_the_paused_working_time(
    users: dict[str, Any], make_case: Any
) -> None:
    # given a case received Wed 30 Sep 09:00: total due 13 Oct 09:00 (420 on 30 Sep,
    # 450 on 8, 9, 10 and 12 Oct, 30 on 13 Oct)
    grid = users["grid"]
    case = make_case(received_at=at(9, 30, 9))
    assert case.due_at == at(10, 13, 9)
    services.perform(case.pk, "accept", actor=grid, now=at(9, 30, 10))
    case = services.perform(case.pk, "start", actor=grid, now=at(9, 30, 10))
    # handle stage: 120 + 240 on 30 Sep, 90 on 8 Oct
    assert case.stage_due_at == at(10, 8, 10)
    # when it is suspended at 16:30 on 30 Sep and resumed at 10:00 on 8 Oct
    services.perform(
        case.pk, "suspend", actor=grid, reason="等待业主回家开门", now=at(9, 30, 16, 30)
    )
    case = services.perform(case.pk, "resume", actor=grid, now=at(10, 8, 10))
    # then 60 + 90 = 150 paused working minutes (the holiday is not counted) push both out
    assert case.stage_due_at == at(10, 8, 14)
    assert case.due_at == at(10, 13, 11, 30)
    resumed = case.events.get(action="resume")
    assert resumed.data["paused_minutes"] == 150
    # and the handler has exactly the 150 minutes left that were left when it was paused
    used_before_pause = 120 + 180  # 10:00-12:00 and 13:30-16:30 on 30 Sep
    clock = WorkClock()
    assert clock.minutes_between(at(10, 8, 10), case.stage_due_at) == 450 - used_before_pause


def test_after_a_resume_the_light_counts_only_the_working_time_used(
    users: dict[str, Any], make_case: Any
) -> None:
    """Defect 4: the share of the stage limit used left out the paused time only from
    the limit's side, so a resumed case turned yellow too early."""
    # given the handle stage (450 min) started 30 Sep 10:00, paused at 16:30 with 300
    # minutes used, resumed on 8 Oct at 10:00 (150 paused working minutes)
    grid = users["grid"]
    case = make_case(received_at=at(9, 30, 9))
    services.perform(case.pk, "accept", actor=grid, now=at(9, 30, 10))
    services.perform(case.pk, "start", actor=grid, now=at(9, 30, 10))
    services.perform(case.pk, "suspend", actor=grid, reason="等待配件", now=at(9, 30, 16, 30))
    case = services.perform(case.pk, "resume", actor=grid, now=at(10, 8, 10))
    clock = WorkClock()
    # then at 10:30, 330 of 450 minutes used (73 %): still green
    assert light_for(case, at(10, 8, 10, 30), clock) == Light.GREEN
    # at 11:00, 360 of 450 (80 %): yellow; at the due time 14:00 still not red
    assert light_for(case, at(10, 8, 11), clock) == Light.YELLOW
    assert light_for(case, at(10, 8, 14), clock) == Light.YELLOW
    assert light_for(case, at(10, 8, 14, 1), clock) == Light.RED
    # and the stage's clock reads the 450 minutes the category allows
    assert clock.minutes_between(case.stage_started_at, case.stage_due_at) == 450


def test_a_suspended_case_shows_the_light_of_the_moment_it_was_paused(
    users: dict[str, Any], make_case: Any
) -> None:
    grid = users["grid"]
    case = make_case(received_at=at(11, 2, 9))
    services.perform(case.pk, "accept", actor=grid, now=at(11, 2, 9))
    services.perform(case.pk, "start", actor=grid, now=at(11, 2, 9))
    case = services.perform(case.pk, "suspend", actor=grid, reason="待材料", now=at(11, 2, 10))
    assert case.light(now=at(11, 20, 9)) == Light.GREEN


# --- traffic lights ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "light"),
    [
        (at(11, 2, 9), Light.GREEN),  # 0 %
        (at(11, 2, 16, 29), Light.GREEN),  # 359 of 450: 79.8 %
        (at(11, 2, 16, 30), Light.YELLOW),  # 360: exactly 80 %
        (at(11, 2, 23), Light.YELLOW),  # evening: the clock stands at 420 (93 %)
        (at(11, 3, 9), Light.YELLOW),  # exactly 100 %: due, not yet overdue
        (at(11, 3, 9, 1), Light.RED),  # over
        (at(11, 5, 9), Light.RED),
    ],
)
def test_traffic_light_green_below_80_yellow_to_100_red_over(
    users: dict[str, Any], make_case: Any, now: dt.datetime, light: str
) -> None:
    # given the handle stage (450 min) started on Mon 2 Nov 2026 at 09:00: due Tue 09:00
    case = make_case(received_at=at(11, 2, 8, 30))
    case = services.perform(case.pk, "accept", actor=users["grid"], now=at(11, 2, 9))
    assert case.stage_due_at == at(11, 3, 9)
    assert case.light(now=now) == light


def test_closed_cases_are_green(users: dict[str, Any], make_case: Any) -> None:
    case = make_case(received_at=at(11, 2, 9))
    case = services.perform(case.pk, "reject", actor=users["community"], reason="重复反映")
    assert case.light(now=at(12, 30, 9)) == Light.GREEN


# --- the escalation job ------------------------------------------------------------------------
def test_escalation_notifies_the_handler_then_the_level_above_then_raises_the_case(
    users: dict[str, Any], make_case: Any
) -> None:
    # given a case dispatched to the grid worker on Mon 2 Nov 09:00: accept due 11:00
    case = make_case(received_at=at(11, 2, 9))
    assert case.stage_due_at == at(11, 2, 11)
    # when the job runs at 11:30 (30 of 120 minutes late): tier 1, the handler is told
    escalation.run(now=at(11, 2, 11, 30))
    case.refresh_from_db()
    assert case.escalations == 1
    notice = case.events.get(action="overdue_notice")
    assert notice.data["notified"] == [users["grid"].pk]
    assert notice.data["overdue_minutes"] == 30
    assert (
        Notification.objects.filter(user=users["grid"], ref=case.number, kind="overdue").count()
        == 1
    )
    # and again at 11:30 and at 11:59: nothing new
    escalation.run(now=at(11, 2, 11, 30))
    escalation.run(now=at(11, 2, 11, 59))
    assert events(case).count("overdue_notice") == 1
    # when 60 minutes (half the limit) are overdue at 12:00: tier 2, the community is told
    escalation.run(now=at(11, 2, 12))
    upper = case.events.get(action="overdue_upper")
    assert upper.data["notified"] == [users["community"].pk]
    assert Notification.objects.filter(
        user=users["community"], ref=case.number, kind="overdue_upper"
    ).exists()
    # lunch does not count: at 13:30 still 60 minutes overdue, nothing new
    escalation.run(now=at(11, 2, 13, 30))
    assert events(case).count("overdue_upper") == 1
    # when the whole limit is overdue at 14:30: tier 3 raises the case to the zone
    escalation.run(now=at(11, 2, 14, 30))
    case.refresh_from_db()
    assert (case.level, case.status, case.escalated_help) == (Level.ZONE, Status.DISPATCHED, True)
    assert case.handler_user == users["branch"]
    assert case.owner_area == users["grid"].memberships.get().area.parent
    assert case.escalations == 0  # a new stage with a fresh clock
    assert case.stage_due_at == at(11, 2, 16, 30)
    raised = case.events.get(action="escalate")
    assert (raised.note, raised.actor_id, raised.data["to_level"]) == ("超时自动提级", None, "zone")
    assert events(case) == ["receive", "dispatch", "overdue_notice", "overdue_upper", "escalate"]
    assert Notification.objects.filter(
        user=users["branch"], ref=case.number, kind="escalate"
    ).exists()
    assert AuditEntry.objects.for_object(case).filter(note__startswith="overdue_").count() == 2


def test_running_the_job_twice_does_not_escalate_twice(
    users: dict[str, Any], make_case: Any
) -> None:
    # given a case a whole working day late on its 120-minute accept stage
    case = make_case(received_at=at(11, 2, 9))
    # when the job runs twice at the same moment
    first = escalation.run(now=at(11, 3, 9))
    second = escalation.run(now=at(11, 3, 9))
    # then all three tiers were taken once, in order, and the second run did nothing
    case.refresh_from_db()
    assert case.level == Level.ZONE
    assert events(case) == ["receive", "dispatch", "overdue_notice", "overdue_upper", "escalate"]
    assert first["raised"] >= 1 and first["notices"] >= 1 and first["upper"] >= 1
    assert second == {**second, "notices": 0, "upper": 0, "raised": 0, "failed": 0}
    assert Notification.objects.filter(ref=case.number, kind="overdue").count() == 1


def test_a_raised_case_that_overruns_again_climbs_one_level_more(
    users: dict[str, Any], make_case: Any
) -> None:
    case = make_case(received_at=at(11, 2, 9))
    escalation.run(now=at(11, 3, 9))  # grid -> zone, new accept stage due 11:00 on 3 Nov
    escalation.run(now=at(11, 4, 9))  # zone -> community
    case.refresh_from_db()
    assert case.level == Level.COMMUNITY
    assert events(case).count("escalate") == 2
    assert case.handler_user == users["community"]


def test_suspended_cases_are_left_alone(users: dict[str, Any], make_case: Any) -> None:
    grid = users["grid"]
    case = make_case(received_at=at(11, 2, 9))
    services.perform(case.pk, "accept", actor=grid, now=at(11, 2, 9, 10))
    services.perform(case.pk, "start", actor=grid, now=at(11, 2, 9, 10))
    services.perform(case.pk, "suspend", actor=grid, reason="等待配件", now=at(11, 2, 10))
    escalation.run(now=at(11, 20, 9))
    assert "overdue_notice" not in events(case)


def test_a_late_review_is_chased_but_never_raises_the_case(
    users: dict[str, Any], make_case: Any
) -> None:
    # given a case handled on 2 Nov 10:00: the review stage (450 min) is due 3 Nov 10:00
    grid = users["grid"]
    case = make_case(received_at=at(11, 2, 9))
    services.perform(case.pk, "accept", actor=grid, now=at(11, 2, 9))
    case = services.perform(case.pk, "handle", actor=grid, result="已清运", now=at(11, 2, 10))
    # when nobody reviews it for a week
    escalation.run(now=at(11, 10, 10))
    # then the reviewers are told (tier 1) and the level above (tier 2), the case stays
    case.refresh_from_db()
    assert (case.status, case.level, case.escalations) == (Status.HANDLED, Level.GRID, 2)
    notice = case.events.get(action="overdue_notice")
    assert users["community"].pk in notice.data["notified"]
    assert users["grid"].pk not in notice.data["notified"]
    assert "escalate" not in events(case)


def test_the_job_is_a_periodic_task_every_five_minutes() -> None:
    task = escalate_overdue.s()
    assert task.validate_datetime(dt.datetime(2026, 11, 2, 9, 5))
    assert task.validate_datetime(dt.datetime(2026, 11, 2, 9, 0))
    assert not task.validate_datetime(dt.datetime(2026, 11, 2, 9, 7))
