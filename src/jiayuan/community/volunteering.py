"""Domain actions of the volunteers (五色一彩): teams, volunteer registration, activities,
sign-up, check-in, closing an activity with its hours, and the hours ledger.

Pages, the API and the demo call these functions, never the models' fields directly.
Every action checks who acts (``Perm.SERVE`` where the row lives, or the resident acting
for themselves), changes rows inside one transaction and writes its audit entry.

Rules kept here, in one place:

- a volunteer is 4–75 years old on the day they register; a minor (under 18) has an
  adult guardian recorded;
- sign-up is open until the activity ends and never exceeds its capacity: the activity
  row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers) while
  the places left are counted, so two requests for the last place give one sign-up;
- check-in by the activity's secret token (the QR code staff show) or by hand, once;
- closing an activity credits each checked-in volunteer its hours once (the ledger's
  unique constraint holds even against a second close racing the first); the number of
  participations (参与人次) is the number checked in;
- the ledger is append-only: a correction is a new line with a reason; a balance is the
  sum of a volunteer's lines, never a stored counter.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.actions import ensure_in_scope
from jiayuan.core.context import current
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_paths, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.org.paths import ancestor_path
from jiayuan.people.models import Person

from .choices import ActivityKind, ActivityStatus, TeamColour
from .models import Activity, HoursEntry, ServicePosition, SignUp, Team, Volunteer
from .residents import home_path, person_of

MIN_AGE = 4
MAX_AGE = 75
ADULT_AGE = 18
MAX_CAPACITY = 10_000
MAX_HOURS = Decimal("24.0")
MAX_CORRECTION = Decimal("1000.0")
#: Check-in opens this long before the start and closes this long after the end.
CHECKIN_EARLY = dt.timedelta(hours=1)
CHECKIN_LATE = dt.timedelta(hours=2)
#: Dates further than this from today are a typing error, not a plan.
HORIZON = dt.timedelta(days=366)
MAX_DURATION = dt.timedelta(days=7)

#: The activity states and the transitions between them (one table, see STYLE.md).
TRANSITIONS: dict[str, frozenset[str]] = {
    ActivityStatus.PLANNED: frozenset({ActivityStatus.DONE, ActivityStatus.CANCELLED}),
    ActivityStatus.DONE: frozenset(),
    ActivityStatus.CANCELLED: frozenset(),
}


# --- who may act --------------------------------------------------------------------------
def _require(actor: Any, obj: models.Model, perm: str = Perm.SERVE) -> None:
    """404 outside the actor's view, 403 where they see the row but may not serve."""
    if actor is None:
        return
    path = obj.area_path  # type: ignore[attr-defined]
    if not path_allowed(actor, path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(actor, path, perm):
        raise PermissionDenied(
            "没有办理社区服务的权限", "you may not act on community services here"
        )


def _created(obj: models.Model, actor: Any, perm: str = Perm.SERVE, note: str = "") -> None:
    """Save a new row inside the actor's scope (checked before and after) with its audit."""
    obj.area_path = obj.derive_area_path()  # type: ignore[attr-defined]
    _require(actor, obj, perm)
    obj.save()
    ensure_in_scope(actor, obj, perm)
    audit.record(AuditEntry.Action.CREATE, obj, actor, audit.snapshot(obj), note)


def _changed(obj: models.Model, actor: Any, changes: dict[str, Any], note: str = "") -> None:
    """Write ``changes`` to ``obj`` (already checked) with an audit entry of the diff."""
    before = audit.snapshot(obj)
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()
    delta = audit.diff(before, audit.snapshot(obj))
    if delta:
        audit.record(AuditEntry.Action.UPDATE, obj, actor, delta, note)


def community_paths(user: Any, perm: str = Perm.VIEW) -> list[str]:
    """The communities a user's scope lies in or covers (a grid worker's community)."""
    out = set()
    for path in scope_paths(user, perm):
        try:
            out.add(ancestor_path(path, AreaKind.COMMUNITY))
        except ValueError:  # above a community: its communities are in scope already
            continue
    return sorted(out)


# --- what a user sees ---------------------------------------------------------------------
def teams_for(user: Any, perm: str = Perm.VIEW) -> QuerySet[Team]:
    """Teams in the user's scope, and the teams of the communities their scope lies in
    (a grid worker registers volunteers into their community's teams)."""
    q = scope_q(user, perm)
    paths = community_paths(user, perm)
    if paths:
        q |= Q(area_path__in=paths)
    return Team.objects.filter(q)


def volunteers_for(user: Any) -> QuerySet[Volunteer]:
    """Volunteers the user sees (their scope), with person and guardian joined."""
    return Volunteer.objects.visible_to(user).select_related("person", "guardian")


def activities_for(user: Any) -> QuerySet[Activity]:
    """Activities in the user's scope."""
    return Activity.objects.visible_to(user).select_related("team", "area", "position")


def nearby_for_resident(user: Any) -> QuerySet[Activity]:
    """Activities a resident may join: those of the community they live in."""
    community = home_path(user, AreaKind.COMMUNITY)
    if community is None:
        return Activity.objects.none()
    return Activity.objects.filter(area_path__startswith=community).select_related(
        "team", "position", "area"
    )


def with_signup_counts(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    """``signed`` (active sign-ups) and ``checked`` (checked in) on each activity.

    Counted by a subquery per activity row, not by joining and grouping the sign-ups: a
    page of 25 activities then counts its own sign-ups only, where a grouped join counted
    the sign-ups of every activity in scope (100,000 of them at county scale) before the
    page was cut."""

    def count(**conditions: Any) -> Coalesce:
        rows = (
            SignUp.objects.filter(activity=OuterRef("pk"), cancelled_at__isnull=True, **conditions)
            .order_by()
            .values("activity")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows), 0)

    return qs.annotate(signed=count(), checked=count(checked_in_at__isnull=False))


def with_balance(qs: QuerySet[Volunteer]) -> QuerySet[Volunteer]:
    """The sum of each volunteer's ledger lines in the same query (``balance_sum``, 0
    without lines), which ``Volunteer.balance`` reads rounded to the tenth."""
    return qs.annotate(
        balance_sum=models.functions.Coalesce(
            models.Subquery(
                HoursEntry.objects.filter(volunteer=models.OuterRef("pk"))
                .order_by()
                .values("volunteer")
                .annotate(total=Sum("hours"))
                .values("total")
            ),
            Decimal("0"),
            output_field=models.DecimalField(max_digits=9, decimal_places=1),
        )
    )


def balance(volunteer: Volunteer) -> Decimal:
    """A volunteer's hours: the sum of their ledger lines, read now."""
    total = HoursEntry.objects.filter(volunteer=volunteer).aggregate(t=Sum("hours"))["t"]
    return Decimal(str(total or 0)).quantize(Decimal("0.1"))


# --- checks on input ----------------------------------------------------------------------
def _hours(value: Any, *, field: str, low: Decimal, high: Decimal, zero: bool = False) -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed("时长须为数字", "hours must be a number", field=field) from None
    if not hours.is_finite() or hours < low or hours > high or (hours == 0 and not zero):
        raise ValidationFailed(
            f"时长须在 {low} 到 {high} 小时之间且不为零",
            f"hours must lie between {low} and {high} and not be zero",
            field=field,
        )
    return hours


def _text(value: Any, *, field: str, limit: int, label: str, required: bool = True) -> str:
    text = str(value or "").strip()
    if "\x00" in text:
        raise ValidationFailed(
            f"{label}含有无效字符", f"{field} holds invalid characters", field=field
        )
    if required and not text:
        raise ValidationFailed(f"请填写{label}", f"{field} is required", field=field)
    if len(text) > limit:
        raise ValidationFailed(
            f"{label}不能超过 {limit} 个字", f"{field} is longer than {limit}", field=field
        )
    return text


def _labels(values: Iterable[Any] | None, *, field: str, label: str) -> list[str]:
    """A short list of short labels (skills, availability, target groups)."""
    out: list[str] = []
    for value in values or ():
        text = _text(value, field=field, limit=40, label=label, required=False)
        if text and text not in out:
            out.append(text)
    if len(out) > 20:
        raise ValidationFailed(f"{label}最多 20 项", f"at most 20 {field}", field=field)
    return out


def age_problem(person: Person, on: dt.date) -> ValidationFailed | None:
    """Why ``person`` may not register as a volunteer on ``on`` (aged 4–75), or None."""
    age = person.age_on(on)
    if age is None:
        return ValidationFailed(
            "该居民没有出生日期，无法核验志愿者年龄（4–75 周岁）",
            "the person has no birth date; a volunteer's age (4–75) cannot be checked",
            field="person",
        )
    if age < MIN_AGE or age > MAX_AGE:
        return ValidationFailed(
            f"志愿者须年满 {MIN_AGE} 周岁且不超过 {MAX_AGE} 周岁（该居民 {age} 岁）",
            f"a volunteer is aged {MIN_AGE} to {MAX_AGE} (this person is {age})",
            field="person",
        )
    if person.death_date is not None:
        return ValidationFailed(
            "该居民已登记死亡", "the person is recorded as deceased", field="person"
        )
    return None


def _check_guardian(person: Person, guardian: Person | None, on: dt.date) -> Person | None:
    age = person.age_on(on) or 0
    if guardian is None:
        if age < ADULT_AGE:
            raise ValidationFailed(
                "未满 18 周岁的志愿者须登记监护人",
                "a volunteer under 18 needs a guardian recorded",
                field="guardian",
            )
        return None
    if guardian.pk == person.pk:
        raise ValidationFailed(
            "监护人不能是本人", "the guardian cannot be the volunteer", field="guardian"
        )
    guardian_age = guardian.age_on(on)
    if guardian.death_date is not None or guardian_age is None or guardian_age < ADULT_AGE:
        raise ValidationFailed(
            "监护人须为已满 18 周岁的在世居民",
            "the guardian must be a living adult (18 or over)",
            field="guardian",
        )
    return guardian


def _team_list(actor: Any, teams: Sequence[Team]) -> list[Team]:
    visible = (
        set(
            teams_for(actor, Perm.SERVE)
            .filter(pk__in=[t.pk for t in teams])
            .values_list("pk", flat=True)
        )
        if actor is not None
        else {t.pk for t in teams}
    )
    for team in teams:
        if team.pk not in visible:
            raise NotFound("服务队不存在", "team not found", field="teams")
    return list(teams)


# --- teams ----------------------------------------------------------------------------------
@transaction.atomic
def create_team(
    *,
    actor: Any,
    area: Area,
    name: str,
    colour: str,
    leader: Person | None = None,
    description: str = "",
) -> Team:
    """Found a volunteer team (志愿服务队) of one of the six colours in a community."""
    if area.kind != AreaKind.COMMUNITY:
        raise ValidationFailed("服务队须设在社区", "a team is based in a community", field="area")
    if colour not in TeamColour.values:
        raise ValidationFailed("色系无效（五色一彩）", "unknown team colour", field="colour")
    team = Team(
        area=area,
        name=_text(name, field="name", limit=100, label="名称"),
        colour=colour,
        leader=leader,
        description=_text(
            description, field="description", limit=2000, label="简介", required=False
        ),
    )
    if Team.objects.filter(area=area, name=team.name).exists():
        raise Conflict(
            "该社区已有同名服务队", "the community already has a team of that name", field="name"
        )
    _created(team, actor)
    return team


# --- volunteers -----------------------------------------------------------------------------
@transaction.atomic
def register_volunteer(
    *,
    actor: Any,
    person: Person,
    teams: Sequence[Team] = (),
    guardian: Person | None = None,
    skills: Iterable[Any] = (),
    availability: Iterable[Any] = (),
    on: dt.date | None = None,
) -> Volunteer:
    """Register a resident as a volunteer (志愿者注册): aged 4–75 on the day, a minor with an
    adult guardian. Staff register anyone in their scope; a resident registers themselves
    (``actor`` is the resident's user and ``person`` their own record)."""
    on = on or timezone.localdate()
    problem = age_problem(person, on)
    if problem is not None:
        raise problem
    guardian = _check_guardian(person, guardian, on)
    is_self = actor is not None and person.user_id is not None and person.user_id == actor.pk
    if Volunteer.objects.filter(person=person).exists():
        raise Conflict("该居民已是注册志愿者", "the person is a volunteer already", field="person")
    volunteer = Volunteer(
        person=person,
        guardian=guardian,
        skills=_labels(skills, field="skills", label="技能"),
        availability=_labels(availability, field="availability", label="可服务时间"),
        joined_on=on,
    )
    if is_self:
        volunteer.area_path = volunteer.derive_area_path()
        volunteer.save()
        audit.record(
            AuditEntry.Action.CREATE,
            volunteer,
            actor,
            audit.snapshot(volunteer),
            "居民本人注册志愿者",
        )
    else:
        _created(volunteer, actor)
    if teams and is_self:  # a resident joins teams of their own community only
        community = ancestor_path(person.area_path, AreaKind.COMMUNITY)
        if any(not community.startswith(t.area_path) for t in teams):
            raise NotFound("服务队不存在", "team not found", field="teams")
        volunteer.teams.set(teams)
    elif teams:
        volunteer.teams.set(_team_list(actor, teams))
    return volunteer


@transaction.atomic
def update_volunteer(volunteer: Volunteer, *, actor: Any, **changes: Any) -> Volunteer:
    """Change a volunteer's teams, guardian, skills, availability or standing (在册)."""
    _require(actor, volunteer)
    fields: dict[str, Any] = {}
    if "skills" in changes:
        fields["skills"] = _labels(changes["skills"], field="skills", label="技能")
    if "availability" in changes:
        fields["availability"] = _labels(
            changes["availability"], field="availability", label="可服务时间"
        )
    if "active" in changes:
        fields["active"] = bool(changes["active"])
    if "guardian" in changes:
        fields["guardian"] = _check_guardian(
            volunteer.person, changes["guardian"], timezone.localdate()
        )
    _changed(volunteer, actor, fields)
    if "teams" in changes:
        volunteer.teams.set(_team_list(actor, changes["teams"]))
    return volunteer


# --- activities -----------------------------------------------------------------------------
def _when(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    now = timezone.now()
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if timezone.is_naive(value):
            raise ValidationFailed("时间须带时区", "times must carry a time zone", field=name)
        if abs(value - now) > HORIZON:
            raise ValidationFailed(
                "活动时间须在一年之内", "an activity lies within a year of today", field=name
            )
    if ends_at <= starts_at:
        raise ValidationFailed(
            "结束时间须晚于开始时间", "the end must come after the start", field="ends_at"
        )
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationFailed(
            "一次活动不超过 7 天", "an activity lasts at most 7 days", field="ends_at"
        )


@transaction.atomic
def create_activity(
    *,
    actor: Any,
    area: Area,
    title: str,
    kind: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int = 30,
    hours: Any = Decimal("2"),
    team: Team | None = None,
    position: ServicePosition | None = None,
    place: str = "",
    target_groups: Iterable[Any] = (),
    report: str = "",
    room_id: int | None = None,
) -> Activity:
    """Plan a service activity (公益课堂, 邻里调解, 关爱帮扶, 健康义诊 …) in a community or a
    compound, with its place, capacity, time and the hours it credits; it gets a secret
    check-in token for its QR code. With ``room_id`` the room is booked for the
    activity's time (``community.rooms.book``: 409 when the time is taken) and the
    activity is held at the room's position."""
    if area.kind not in (AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID):
        raise ValidationFailed(
            "活动须设在社区、小区或网格",
            "an activity is held in a community, compound or grid",
            field="area",
        )
    if kind not in ActivityKind.values:
        raise ValidationFailed("活动类型无效", "unknown activity kind", field="kind")
    _when(starts_at, ends_at)
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed(
            f"名额须在 1 到 {MAX_CAPACITY} 之间",
            f"capacity must lie between 1 and {MAX_CAPACITY}",
            field="capacity",
        )
    community = ancestor_path(area.path, AreaKind.COMMUNITY)
    if team is not None and not community.startswith(team.area_path):
        raise ValidationFailed(
            "服务队不属于活动所在社区", "the team belongs to another community", field="team"
        )
    if position is not None and not position.area_path.startswith(community):
        raise ValidationFailed(
            "服务阵地不在活动所在社区", "the position lies in another community", field="position"
        )
    activity = Activity(
        title=_text(title, field="title", limit=120, label="活动名称"),
        kind=kind,
        area=area,
        team=team,
        position=position,
        place=_text(
            place or (position.name if position else ""),
            field="place",
            limit=200,
            label="地点",
            required=False,
        ),
        target_groups=_labels(target_groups, field="target_groups", label="服务对象"),
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        hours=_hours(hours, field="hours", low=Decimal("0.1"), high=MAX_HOURS),
        report=_text(report, field="report", limit=4000, label="简介", required=False),
        checkin_token=secrets.token_hex(16),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if room_id is not None:
        from . import rooms  # the places part owns bookings

        booking = rooms.book(
            room_id,
            rooms.BookingRequest(
                title=activity.title[:100],
                starts_at=starts_at,
                ends_at=ends_at,
                organiser=(team.name if team else "")[:100],
                attendees=0,
            ),
            actor=actor,
        )
        if not booking.area_path.startswith(community):
            raise ValidationFailed(
                "活动室不在活动所在社区", "the room lies in another community", field="room"
            )
        activity.booking = booking
        activity.position = booking.room.position
        activity.place = activity.place or f"{booking.room.position.name} {booking.room.name}"
    _created(activity, actor)
    return activity


def _locked(activity: Activity) -> Activity:
    """The activity re-read under a row lock (FOR UPDATE on PostgreSQL)."""
    return Activity.objects.select_for_update().get(pk=activity.pk)


def _transition(activity: Activity, target: str) -> None:
    if target not in TRANSITIONS[activity.status]:
        raise Conflict(
            f"活动{activity.get_status_display()}，不能再办理",
            f"the activity is {activity.status}; it cannot become {target}",
        )


@transaction.atomic
def cancel_activity(activity: Activity, *, actor: Any, reason: str = "") -> Activity:
    """Call an activity off (取消); its sign-ups stay as they were, nothing is credited."""
    _require(actor, activity)
    activity = _locked(activity)
    _transition(activity, ActivityStatus.CANCELLED)
    _changed(
        activity,
        actor,
        {"status": ActivityStatus.CANCELLED},
        _text(reason, field="reason", limit=200, label="原因", required=False),
    )
    return activity


def _may_sign_for(actor: Any, activity: Activity, person: Person) -> bool:
    """Whether ``actor`` signs ``person`` up as themselves (a resident of the community)."""
    me = person_of(actor)
    return me is not None and me.pk == person.pk


def _resident_may_join(person: Person, activity: Activity) -> bool:
    try:
        community = ancestor_path(person.area_path, AreaKind.COMMUNITY)
    except ValueError:
        return False
    return activity.area_path.startswith(community)


@transaction.atomic
def sign_up(activity: Activity, *, actor: Any, person: Person) -> SignUp:
    """Sign ``person`` up for ``activity`` (报名): a resident for themselves (an activity of
    their community), or staff for someone in their scope. Open while the activity is
    planned and has not ended; never beyond its capacity."""
    if _may_sign_for(actor, activity, person):
        if not _resident_may_join(person, activity):
            raise NotFound()
    else:
        _require(actor, activity)
        if not path_allowed(actor, person.area_path, Perm.VIEW):
            raise NotFound("居民不存在", "person not found", field="person")
    activity = _locked(activity)
    if activity.status != ActivityStatus.PLANNED:
        raise Conflict(
            f"活动{activity.get_status_display()}，不能报名",
            f"the activity is {activity.status}; sign-up is closed",
        )
    if timezone.now() >= activity.ends_at:
        raise Conflict("活动已结束，不能报名", "the activity has ended")
    row = SignUp.objects.filter(activity=activity, person=person).first()
    if row is not None and row.cancelled_at is None:
        raise Conflict("已经报名", "signed up already")
    taken = SignUp.objects.filter(activity=activity, cancelled_at__isnull=True).count()
    if taken >= activity.capacity:
        raise Conflict("名额已满", "the activity is full")
    if row is None:
        row = SignUp.objects.create(activity=activity, person=person)
    else:
        row.cancelled_at = None
        row.checked_in_at = None
        row.signed_up_at = timezone.now()
        row.save(update_fields=["cancelled_at", "checked_in_at", "signed_up_at"])
    audit.record(AuditEntry.Action.UPDATE, activity, actor, {"signup": [None, person.pk]}, "报名")
    return row


@transaction.atomic
def cancel_sign_up(activity: Activity, *, actor: Any, person: Person) -> SignUp:
    """Withdraw a sign-up (取消报名) before the activity starts; the place frees up."""
    if not _may_sign_for(actor, activity, person):
        _require(actor, activity)
    activity = _locked(activity)
    row = SignUp.objects.filter(activity=activity, person=person, cancelled_at__isnull=True).first()
    if row is None:
        raise NotFound("没有该报名", "no such sign-up")
    if row.checked_in_at is not None or activity.status != ActivityStatus.PLANNED:
        raise Conflict(
            "已签到或活动已结束，不能取消报名",
            "checked in or the activity is over; the sign-up stays",
        )
    row.cancelled_at = timezone.now()
    row.save(update_fields=["cancelled_at"])
    audit.record(
        AuditEntry.Action.UPDATE, activity, actor, {"signup": [person.pk, None]}, "取消报名"
    )
    return row


def token_matches(activity: Activity, token: str) -> bool:
    """Constant-time comparison of a presented check-in token with the activity's."""
    return bool(activity.checkin_token) and hmac.compare_digest(
        activity.checkin_token.encode(), str(token).encode()
    )


@transaction.atomic
def check_in(
    activity: Activity, *, actor: Any, person: Person | None = None, token: str | None = None
) -> tuple[SignUp, bool]:
    """Check a signed-up person in (签到), once. A resident presents the activity's token
    (the QR code staff show) for themselves; a wrong token is "not found". Staff check
    someone in by hand (``person``). Returns the sign-up and whether it was new."""
    if token is not None:
        person = person_of(actor)
        if person is None or not token_matches(activity, token):
            raise NotFound()
    elif person is None:
        raise ValidationFailed("请指定签到的居民", "who checks in?", field="person")
    else:
        _require(actor, activity)
    activity = _locked(activity)
    if activity.status != ActivityStatus.PLANNED:
        raise Conflict(
            f"活动{activity.get_status_display()}，不能签到",
            f"the activity is {activity.status}; check-in is closed",
        )
    now = timezone.now()
    if now < activity.starts_at - CHECKIN_EARLY or now > activity.ends_at + CHECKIN_LATE:
        raise Conflict(
            "不在签到时间内（活动开始前 1 小时至结束后 2 小时）",
            "check-in is open from an hour before the start to two hours after the end",
        )
    row = SignUp.objects.filter(activity=activity, person=person, cancelled_at__isnull=True).first()
    if row is None:
        raise Conflict(
            "尚未报名此活动，请先报名", "not signed up for this activity", field="person"
        )
    if row.checked_in_at is not None:
        return row, False
    row.checked_in_at = now
    row.save(update_fields=["checked_in_at"])
    audit.record(
        AuditEntry.Action.UPDATE,
        activity,
        actor,
        {"checkin": [None, person.pk]},
        "签到" if token is None else "扫码签到",
    )
    return row, True


@transaction.atomic
def close_activity(activity: Activity, *, actor: Any, report: str = "") -> Activity:
    """Close an activity (结束并记录时长): each checked-in volunteer is credited the
    activity's hours once, the participations (人次) are the check-ins, and the short
    report is kept. Closing twice is refused; the ledger's constraint would refuse the
    second crediting anyway."""
    _require(actor, activity)
    activity = _locked(activity)
    _transition(activity, ActivityStatus.DONE)
    if timezone.now() < activity.starts_at:
        raise Conflict("活动尚未开始，不能结束", "the activity has not started yet")
    checked = SignUp.objects.filter(
        activity=activity, cancelled_at__isnull=True, checked_in_at__isnull=False
    )
    volunteers = list(
        Volunteer.objects.filter(person__in=checked.values("person_id"), active=True)
        .select_related("person")
        .order_by("pk")
    )
    entries = [
        HoursEntry(
            volunteer=v,
            activity=activity,
            hours=activity.hours,
            reason=f"参加活动：{activity.title}"[:200],
            recorded_by=actor if getattr(actor, "pk", None) else None,
            area_path=v.area_path,
        )
        for v in volunteers
    ]
    created = HoursEntry.objects.bulk_create(entries)
    audit.record_snapshots(created, actor, "活动结束，记录志愿时长")
    _changed(
        activity,
        actor,
        {
            "status": ActivityStatus.DONE,
            "participations": checked.count(),
            "report": _text(report, field="report", limit=4000, label="活动小结", required=False)
            or activity.report,
        },
        "活动结束",
    )
    return activity


@transaction.atomic
def correct_hours(volunteer: Volunteer, *, actor: Any, hours: Any, reason: str) -> HoursEntry:
    """Correct a volunteer's hours (时长更正): a new ledger line (negative to take hours
    back) with its reason; a balance never goes below zero."""
    _require(actor, volunteer, Perm.CHANGE)
    amount = _hours(hours, field="hours", low=-MAX_CORRECTION, high=MAX_CORRECTION)
    text = _text(reason, field="reason", limit=200, label="更正原因")
    Volunteer.objects.select_for_update().filter(pk=volunteer.pk).first()
    if balance(volunteer) + amount < 0:
        raise ValidationFailed(
            "更正后时长不能为负", "the balance cannot go below zero", field="hours"
        )
    entry = HoursEntry(
        volunteer=volunteer,
        hours=amount,
        reason=text,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    _created(entry, actor, Perm.CHANGE, "时长更正")
    return entry


# --- a volunteer who moves -------------------------------------------------------------------
def follow_moved_person(sender: Any, person: Person, new_path: str, **_: Any) -> None:
    """A resident moved (``people.services.person_moved``): their volunteer record goes
    along, so the new area's staff see them and the old area's no longer do. Ledger lines
    stay where the hours were earned (the ledger is never edited)."""
    Volunteer.objects.filter(person=person).update(area_path=new_path, updated_at=timezone.now())


def connect() -> None:
    """Register the volunteers' receivers (called from ``community.hooks``)."""
    from jiayuan.people.services import person_moved

    person_moved.connect(follow_moved_person, dispatch_uid="community.volunteers.follow_moved")


# --- the roster export -----------------------------------------------------------------------
EXPORT_LIMIT = 50_000
EXPORT_HEADER = ["姓名", "身份证号", "手机号", "年龄", "监护人", "服务队", "技能", "可服务时间",
                 "注册日期", "在册", "志愿时长(小时)"]  # fmt: skip


def export_roster(user: Any, qs: QuerySet[Volunteer]) -> bytes:
    """The volunteer roster (志愿者花名册) of ``qs`` as an Excel workbook: ID and phone
    numbers masked as on the pages, the export written to the audit log."""
    import io

    import xlsxwriter

    rows = list(
        with_balance(qs).prefetch_related("teams").order_by("area_path", "pk")[:EXPORT_LIMIT]
    )
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("志愿者")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, EXPORT_HEADER, bold)
    today = timezone.localdate()
    for i, v in enumerate(rows, start=1):
        p = v.person
        sheet.write_row(i, 0, [
            p.name, p.id_number_masked, p.phone_masked, p.age_on(today) or "",
            v.guardian.name if v.guardian else "", "、".join(t.name for t in v.teams.all()),
            "、".join(v.skills), "、".join(v.availability), v.joined_on.isoformat(),
            "是" if v.active else "否", float(v.balance),
        ])  # fmt: skip
    sheet.set_column(0, 10, 14)
    book.close()
    ctx = current()
    AuditEntry.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        actor_name=getattr(user, "username", "") or "system",
        channel=ctx.channel,
        request_id=ctx.request_id,
        client_address=ctx.client_address,
        action=AuditEntry.Action.EXPORT,
        object_type="community.volunteer",
        object_id="roster",
        object_repr="志愿者花名册",
        changes={"rows": len(rows)},
        note="volunteers.xlsx",
    )
    return out.getvalue()
