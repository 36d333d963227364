"""JSON API of the community services: volunteer teams (五色一彩), volunteers and their
hours ledger, activities with sign-up, check-in and closing.

Handlers parse, call one action of :mod:`jiayuan.community.volunteering` and render. A
volunteer's ID and phone numbers appear masked only (the person's audited reveal is the
one way to the clear numbers).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import scope_paths, scope_q
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .. import volunteering as vol
from ..choices import ActivityKind, ActivityStatus, TeamColour
from ..models import Activity, HoursEntry, ServicePosition, SignUp, Team, Volunteer
from ..residents import person_of

router = Router(tags=["社区服务"])

Id = Field(..., ge=1, le=2**62)
Text = Field(..., min_length=1, max_length=120)


# --- schemas -----------------------------------------------------------------------------
class TeamOut(Schema):
    """A volunteer team (志愿服务队) of one of the six colours, based in a community."""

    id: int
    name: str
    colour: str
    colour_label: str
    area_id: int
    area_path: str
    description: str
    volunteer_count: int = 0

    @staticmethod
    def resolve_colour_label(obj: Team) -> str:
        return str(TeamColour(obj.colour).label)

    @staticmethod
    def resolve_volunteer_count(obj: Team) -> int:
        return int(getattr(obj, "volunteer_count", 0) or 0)


class TeamIn(Schema):
    area_id: int = Id
    name: str = Text
    colour: TeamColour
    description: str = Field("", max_length=2000)


class TeamFilters(Schema):
    colour: TeamColour | None = None


class VolunteerOut(Schema):
    """A volunteer (志愿者): the person's name and masked numbers, teams, hours balance."""

    id: int
    person_id: int
    name: str
    id_number_masked: str
    phone_masked: str
    age: int | None
    guardian_id: int | None
    guardian_name: str | None
    skills: list[str]
    availability: list[str]
    teams: list[int]
    joined_on: dt.date
    active: bool
    balance: Decimal

    @staticmethod
    def resolve_name(obj: Volunteer) -> str:
        return obj.person.name

    @staticmethod
    def resolve_id_number_masked(obj: Volunteer) -> str:
        return obj.person.id_number_masked

    @staticmethod
    def resolve_phone_masked(obj: Volunteer) -> str:
        return obj.person.phone_masked

    @staticmethod
    def resolve_age(obj: Volunteer) -> int | None:
        return obj.person.age

    @staticmethod
    def resolve_guardian_name(obj: Volunteer) -> str | None:
        return obj.guardian.name if obj.guardian else None

    @staticmethod
    def resolve_teams(obj: Volunteer) -> list[int]:
        return [t.pk for t in obj.teams.all()]

    @staticmethod
    def resolve_balance(obj: Volunteer) -> Decimal:
        return obj.balance


class VolunteerIn(Schema):
    person_id: int = Id
    guardian_id: int | None = Field(None, ge=1, le=2**62)
    teams: list[int] = Field(default_factory=list, max_length=20)
    skills: list[str] = Field(default_factory=list, max_length=20)
    availability: list[str] = Field(default_factory=list, max_length=20)


class VolunteerPatch(Schema):
    guardian_id: int | None = Field(None, ge=1, le=2**62)
    teams: list[int] | None = Field(None, max_length=20)
    skills: list[str] | None = Field(None, max_length=20)
    availability: list[str] | None = Field(None, max_length=20)
    active: bool | None = None


class VolunteerFilters(Schema):
    team: int | None = Field(None, ge=1, le=2**62)
    q: str | None = Field(None, max_length=50, description="姓名 / name")


class HoursEntryOut(Schema):
    """One line of the hours ledger (志愿时长)."""

    id: int
    hours: Decimal
    reason: str
    activity_id: int | None
    created_at: dt.datetime


class HoursOut(Schema):
    """A volunteer's hours: the balance (the sum of every line) and a page of lines."""

    volunteer_id: int
    balance: Decimal
    items: list[HoursEntryOut]
    count: int


class CorrectionIn(Schema):
    hours: Decimal = Field(..., ge=-1000, le=1000, max_digits=6, decimal_places=1)
    reason: str = Field(..., min_length=1, max_length=200)


class SignUpOut(Schema):
    """A sign-up (报名) with its check-in (签到); the person's numbers are not shown."""

    id: int
    person_id: int
    name: str
    signed_up_at: dt.datetime
    checked_in_at: dt.datetime | None
    cancelled_at: dt.datetime | None

    @staticmethod
    def resolve_name(obj: SignUp) -> str:
        return obj.person.name


class ActivityOut(Schema):
    """A service activity with its place, time, capacity, hours and counts."""

    id: int
    title: str
    kind: str
    kind_label: str
    status: str
    area_id: int
    area_path: str
    team_id: int | None
    position_id: int | None
    place: str
    target_groups: list[str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    hours: Decimal
    signed: int = 0
    checked: int = 0
    participations: int

    @staticmethod
    def resolve_kind_label(obj: Activity) -> str:
        return str(ActivityKind(obj.kind).label)

    @staticmethod
    def resolve_signed(obj: Activity) -> int:
        return int(getattr(obj, "signed", 0) or 0)

    @staticmethod
    def resolve_checked(obj: Activity) -> int:
        return int(getattr(obj, "checked", 0) or 0)


class ActivityDetail(ActivityOut):
    """An activity with its sign-ups and its report."""

    report: str
    signups: list[SignUpOut]

    @staticmethod
    def resolve_signups(obj: Activity) -> list[SignUp]:
        return list(obj.signups.all())


class ActivityIn(Schema):
    area_id: int = Id
    title: str = Text
    kind: ActivityKind
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int = Field(30, ge=1, le=vol.MAX_CAPACITY)
    hours: Decimal = Field(Decimal("2"), gt=0, le=24, max_digits=4, decimal_places=1)
    team_id: int | None = Field(None, ge=1, le=2**62)
    position_id: int | None = Field(None, ge=1, le=2**62)
    place: str = Field("", max_length=200)
    target_groups: list[str] = Field(default_factory=list, max_length=20)
    room_id: int | None = Field(
        None, ge=1, le=2**62, description="预约该活动室 / book this room for the activity"
    )


class ActivityFilters(Schema):
    status: ActivityStatus | None = None
    kind: ActivityKind | None = None


class CloseIn(Schema):
    report: str = Field("", max_length=4000)


class SignUpIn(Schema):
    person_id: int | None = Field(
        None, ge=1, le=2**62, description="留空为本人报名 / empty: the acting resident"
    )


class CheckInIn(Schema):
    token: str | None = Field(None, max_length=64, description="二维码中的签到码 / QR token")
    person_id: int | None = Field(None, ge=1, le=2**62, description="工作人员代签 / by hand")


# --- lookups -------------------------------------------------------------------------------
def _one(qs: QuerySet[Any], pk: int, zh: str = "对象不存在", en: str = "not found") -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound(zh, en)
    return obj


def _person(user: Any, pk: int, field: str) -> Person:
    obj = Person.objects.visible_to(user).filter(pk=pk).first()
    if obj is None:
        raise NotFound("居民不存在", "person not found", field=field)
    return obj


def team_queryset(user: Any) -> QuerySet[Team]:
    return vol.teams_for(user).annotate(volunteer_count=Count("volunteers", distinct=True))


def volunteer_queryset(user: Any) -> QuerySet[Volunteer]:
    return vol.with_balance(vol.volunteers_for(user)).prefetch_related(
        Prefetch("teams", queryset=Team.objects.only("pk"))
    )


def activity_queryset(user: Any) -> QuerySet[Activity]:
    """Activities of the user's scope; a resident reads those of their community."""
    scoped: QuerySet[Activity] = Activity.objects.visible_to(user)
    if not scope_paths(user, Perm.VIEW):
        scoped = vol.nearby_for_resident(user)
    return vol.with_signup_counts(scoped)


def _activity(user: Any, pk: int) -> Activity:
    """One activity with its sign-ups: all of them for staff, a resident's own only."""
    signups = SignUp.objects.select_related("person")
    if not scope_paths(user, Perm.VIEW):
        me = person_of(user)
        signups = signups.filter(person_id=me.pk) if me else signups.none()
    return _one(  # type: ignore[no-any-return]
        activity_queryset(user).prefetch_related(Prefetch("signups", queryset=signups)),
        pk,
        "活动不存在",
        "activity not found",
    )


# --- teams ---------------------------------------------------------------------------------
@router.get("/volunteer-teams", response=responses(Page[TeamOut]), tags=["volunteers"])
def list_teams(
    request: HttpRequest, filters: Query[TeamFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Volunteer teams of the user's scope and of the communities it lies in."""
    qs = team_queryset(acting_user(request))
    if filters.colour:
        qs = qs.filter(colour=filters.colour)
    return paginate(qs, page)


@router.get("/volunteer-teams/{team_id}", response=responses(TeamOut), tags=["volunteers"])
def get_team(request: HttpRequest, team_id: int) -> Team:
    """One volunteer team."""
    return _one(team_queryset(acting_user(request)), team_id)  # type: ignore[no-any-return]


@router.post("/volunteer-teams", response=responses(TeamOut, 201), tags=["volunteers"])
def create_team(request: HttpRequest, body: TeamIn) -> Status[Team]:
    """Found a team of one of the six colours (党旗红, 余晖金, 活力蓝, 希望绿, 专业橙, 绚丽彩)
    in a community."""
    user = acting_user(request)
    area = _one(Area.objects.filter(scope_q(user, Perm.VIEW, field="path")), body.area_id)
    team = vol.create_team(
        actor=user, area=area, name=body.name, colour=body.colour, description=body.description
    )
    return Status(201, _one(team_queryset(user), team.pk))


# --- volunteers ----------------------------------------------------------------------------
@router.get("/volunteers", response=responses(Page[VolunteerOut]), tags=["volunteers"])
def list_volunteers(
    request: HttpRequest, filters: Query[VolunteerFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Volunteers in the user's scope with their hours balance; ID and phone masked."""
    qs = volunteer_queryset(acting_user(request))
    if filters.team:
        qs = qs.filter(teams=filters.team)
    if filters.q:
        qs = qs.filter(person__name__contains=filters.q.strip())
    return paginate(qs, page)


@router.get("/volunteers/{volunteer_id}", response=responses(VolunteerOut), tags=["volunteers"])
def get_volunteer(request: HttpRequest, volunteer_id: int) -> Volunteer:
    """One volunteer."""
    return _one(volunteer_queryset(acting_user(request)), volunteer_id)  # type: ignore[no-any-return]


@router.post("/volunteers", response=responses(VolunteerOut, 201), tags=["volunteers"])
def register_volunteer(request: HttpRequest, body: VolunteerIn) -> Status[Volunteer]:
    """Register a resident as a volunteer: aged 4–75 today; under 18 with an adult
    ``guardian_id``."""
    user = acting_user(request)
    person = _person(user, body.person_id, "person_id")
    guardian = _person(user, body.guardian_id, "guardian_id") if body.guardian_id else None
    teams = [_one(vol.teams_for(user), pk, "服务队不存在", "team not found") for pk in body.teams]
    volunteer = vol.register_volunteer(
        actor=user,
        person=person,
        guardian=guardian,
        teams=teams,
        skills=body.skills,
        availability=body.availability,
    )
    return Status(201, _one(volunteer_queryset(user), volunteer.pk))


@router.patch("/volunteers/{volunteer_id}", response=responses(VolunteerOut), tags=["volunteers"])
def update_volunteer(request: HttpRequest, volunteer_id: int, body: VolunteerPatch) -> Volunteer:
    """Change a volunteer's teams, guardian, skills, availability or standing (``active``);
    only the fields sent change."""
    user = acting_user(request)
    volunteer = _one(vol.volunteers_for(user), volunteer_id)
    sent = body.dict(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in sent.items() if k in ("skills", "availability")}
    if sent.get("active") is not None:
        changes["active"] = sent["active"]
    if "guardian_id" in sent:
        gid = sent["guardian_id"]
        changes["guardian"] = _person(user, gid, "guardian_id") if gid else None
    if sent.get("teams") is not None:
        changes["teams"] = [
            _one(vol.teams_for(user), pk, "服务队不存在", "team not found") for pk in sent["teams"]
        ]
    vol.update_volunteer(volunteer, actor=user, **changes)
    return _one(volunteer_queryset(user), volunteer.pk)  # type: ignore[no-any-return]


@router.get("/volunteers/{volunteer_id}/hours", response=responses(HoursOut), tags=["volunteers"])
def volunteer_hours(request: HttpRequest, volunteer_id: int, page: Query[PageParams]) -> Any:
    """A volunteer's hours ledger: the balance (sum of every line) and its lines, newest
    first."""
    user = acting_user(request)
    volunteer = _one(vol.volunteers_for(user), volunteer_id)
    lines = HoursEntry.objects.filter(volunteer=volunteer).order_by("-created_at", "-id")
    body = paginate(lines, page)
    return {"volunteer_id": volunteer.pk, "balance": vol.balance(volunteer), **body}


@router.post(
    "/volunteers/{volunteer_id}/hours",
    response=responses(HoursEntryOut, 201),
    tags=["volunteers"],
)
def correct_hours(request: HttpRequest, volunteer_id: int, body: CorrectionIn) -> Status[Any]:
    """Correct a volunteer's hours with a new ledger line (negative takes hours back) and
    its ``reason``; the ledger is never edited."""
    user = acting_user(request)
    volunteer = _one(vol.volunteers_for(user), volunteer_id)
    return Status(
        201, vol.correct_hours(volunteer, actor=user, hours=body.hours, reason=body.reason)
    )


# --- activities ----------------------------------------------------------------------------
@router.get("/activities", response=responses(Page[ActivityOut]), tags=["activities"])
def list_activities(
    request: HttpRequest, filters: Query[ActivityFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Activities in the user's scope (a resident: their community's), latest first, with
    their sign-up and check-in counts."""
    qs = activity_queryset(acting_user(request))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return paginate(qs, page)


@router.get("/activities/{activity_id}", response=responses(ActivityDetail), tags=["activities"])
def get_activity(request: HttpRequest, activity_id: int) -> Activity:
    """One activity with its sign-ups and report."""
    return _activity(acting_user(request), activity_id)


@router.post("/activities", response=responses(ActivityDetail, 201), tags=["activities"])
def create_activity(request: HttpRequest, body: ActivityIn) -> Status[Activity]:
    """Plan an activity in a community, compound or grid of the user's scope."""
    user = acting_user(request)
    area = _one(Area.objects.filter(scope_q(user, Perm.VIEW, field="path")), body.area_id)
    team = (
        _one(vol.teams_for(user), body.team_id, "服务队不存在", "team not found")
        if (body.team_id)
        else None
    )
    position = (
        _one(
            ServicePosition.objects.visible_to(user),
            body.position_id,
            "阵地不存在",
            "position not found",
        )
        if body.position_id
        else None
    )
    activity = vol.create_activity(
        actor=user,
        area=area,
        title=body.title,
        kind=body.kind,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
        hours=body.hours,
        team=team,
        position=position,
        place=body.place,
        target_groups=body.target_groups,
        room_id=body.room_id,
    )
    return Status(201, _activity(user, activity.pk))


@router.post(
    "/activities/{activity_id}/close", response=responses(ActivityDetail), tags=["activities"]
)
def close_activity(request: HttpRequest, activity_id: int, body: CloseIn) -> Activity:
    """Close an activity: credit each checked-in volunteer its hours, once, and count the
    participations (人次)."""
    user = acting_user(request)
    vol.close_activity(_activity(user, activity_id), actor=user, report=body.report)
    return _activity(user, activity_id)


@router.post(
    "/activities/{activity_id}/cancel", response=responses(ActivityDetail), tags=["activities"]
)
def cancel_activity(request: HttpRequest, activity_id: int, body: CloseIn) -> Activity:
    """Call a planned activity off; nothing is credited (``report`` is the reason)."""
    user = acting_user(request)
    vol.cancel_activity(_activity(user, activity_id), actor=user, reason=body.report[:200])
    return _activity(user, activity_id)


@router.post(
    "/activities/{activity_id}/signups", response=responses(SignUpOut, 201), tags=["activities"]
)
def sign_up(request: HttpRequest, activity_id: int, body: SignUpIn) -> Status[SignUp]:
    """Sign up for an activity: a resident for themselves (no ``person_id``), staff for a
    resident of their scope. 409 when it is full."""
    user = acting_user(request)
    activity = _activity(user, activity_id)
    person = _person(user, body.person_id, "person_id") if body.person_id else _me(user)
    return Status(201, vol.sign_up(activity, actor=user, person=person))


@router.post(
    "/activities/{activity_id}/signups/cancel",
    response=responses(SignUpOut),
    tags=["activities"],
)
def cancel_sign_up(request: HttpRequest, activity_id: int, body: SignUpIn) -> SignUp:
    """Withdraw a sign-up before the activity starts."""
    user = acting_user(request)
    activity = _activity(user, activity_id)
    person = _person(user, body.person_id, "person_id") if body.person_id else _me(user)
    return vol.cancel_sign_up(activity, actor=user, person=person)


@router.post(
    "/activities/{activity_id}/checkin", response=responses(SignUpOut), tags=["activities"]
)
def check_in(request: HttpRequest, activity_id: int, body: CheckInIn) -> SignUp:
    """Check in: a resident with the ``token`` of the activity's QR code (a wrong token
    answers 404), or staff by hand for ``person_id``. A second check-in changes nothing."""
    user = acting_user(request)
    activity = _activity(user, activity_id)
    if body.token is not None:
        row, _new = vol.check_in(activity, actor=user, token=body.token)
    else:
        person = _person(user, body.person_id, "person_id") if body.person_id else _me(user)
        row, _new = vol.check_in(activity, actor=user, person=person)
    return row


def _me(user: Any) -> Person:
    person = person_of(user)
    if person is None:
        raise NotFound(
            "没有与账号关联的居民", "no resident is linked to this account", field="person_id"
        )
    return person
