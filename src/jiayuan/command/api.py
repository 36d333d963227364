"""JSON API of mobilisations (一键调度) and duty (上岗/下岗).

``POST /mobilisations`` answers 201 with the selected forces (phones masked);
``POST /mobilisations/{id}/responses`` records a person's step — a force posts its own,
staff supervising the place may post anyone's; an illegal step is 409;
``GET /mobilisations/{id}`` gives the counts per step, the members, the timeline and the
report. Reads are the staff's scope plus the members themselves; elsewhere 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import MAX_ROW_ID as MAX_ID
from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import path_allowed

from . import duty, mobilise
from .models import Member, Mobilisation, MobilisationEvent, MobilisationStatus

router = Router(tags=["指挥调度 · 一键调度 / mobilisation"])


class PointIn(Schema):
    lat: float = Field(..., ge=-90, le=90)
    lng: float = Field(..., ge=-180, le=180)


class MobilisationIn(Schema):
    area_id: int | None = Field(None, ge=1, le=MAX_ID, description="区域 / an area in scope")
    polygon: dict[str, Any] | None = Field(None, description="GeoJSON Polygon")
    point: PointIn | None = Field(None, description="集结点 / gathering point")
    roles: list[str] = Field(default_factory=list, max_length=20, description="ForceKind")
    skills: list[str] = Field(default_factory=list, max_length=20)
    head_count: int = Field(..., ge=1, le=mobilise.MAX_HEAD_COUNT)
    message: str = Field(..., min_length=1, max_length=mobilise.MAX_MESSAGE)


class ResponseIn(Schema):
    step: str = Field(..., max_length=16)
    member_id: int | None = Field(None, ge=1, le=MAX_ID, description="staff: whose step")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    note: str = Field("", max_length=200)


class DutyIn(Schema):
    on_duty: bool
    force_id: int | None = Field(None, ge=1, le=MAX_ID)
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)


class MemberOut(Schema):
    id: int
    person_name: str
    phone_masked: str
    force_kind: str
    rank: int
    distance_m: float
    step: str
    step_label: str
    step_at: dt.datetime
    notified_at: dt.datetime
    acknowledged_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    escalation_level: int


class EventOut(Schema):
    at: dt.datetime
    kind: str
    label: str
    step: str
    level: int
    person_name: str
    actor_name: str
    note: str


class MobilisationOut(Schema):
    id: int
    number: str
    status: str
    area_id: int | None
    lat: float
    lng: float
    roles: list[str]
    skills: list[str]
    head_count: int
    message: str
    source: str
    created_by_name: str
    created_at: dt.datetime
    first_ack_at: dt.datetime | None
    head_count_at: dt.datetime | None
    assembled_at: dt.datetime | None
    closed_at: dt.datetime | None
    counts: dict[str, int]


class MobilisationDetail(MobilisationOut):
    polygon: dict[str, Any] | None
    members: list[MemberOut]
    timeline: list[EventOut]
    report: dict[str, Any]


class DutyOut(Schema):
    force_id: int
    on_duty: bool
    started_at: dt.datetime | None
    ended_at: dt.datetime | None


def _member(m: Member) -> dict[str, Any]:
    return {
        "id": m.pk,
        "person_name": m.person.name,
        "phone_masked": m.person.phone_masked,
        "force_kind": m.force.kind,
        "rank": m.rank,
        "distance_m": m.distance_m,
        "step": m.step,
        "step_label": m.get_step_display(),
        "step_at": m.step_at,
        "notified_at": m.notified_at,
        "acknowledged_at": m.acknowledged_at,
        "checked_in_at": m.checked_in_at,
        "escalation_level": m.escalation_level,
    }


def _event(e: MobilisationEvent) -> dict[str, Any]:
    return {
        "at": e.at,
        "kind": e.kind,
        "label": e.get_kind_display() if e.kind != "step" else e.get_step_display(),
        "step": e.step,
        "level": e.level,
        "person_name": e.member.person.name if e.member else "",
        "member_id": e.member_id,
        "actor_name": e.actor_name,
        "note": e.note,
    }


def _summary(mob: Mobilisation) -> dict[str, Any]:
    members = list(mob.members.all())
    return {
        **{f: getattr(mob, f) for f in MobilisationOut.model_fields if hasattr(mob, f)},
        "counts": mobilise.counts(members),
    }


def _detail(mob: Mobilisation, user: Any) -> dict[str, Any]:
    """The whole picture for staff in scope; a called person outside that scope sees the
    counts and their own line only, not the others' names (minimum necessary)."""
    members = list(mob.members.all())
    data = {
        **_summary(mob),
        "polygon": mob.polygon,
        "members": [_member(m) for m in members],
        "timeline": [_event(e) for e in mobilise.timeline(mob)],
        "report": mobilise.report(mob, members),
    }
    if not path_allowed(user, mob.area_path, Perm.VIEW):
        mine = {m.pk for m in members if m.person.user_id == getattr(user, "pk", None)}
        data["members"] = [m for m in data["members"] if m["id"] in mine]
        data["timeline"] = [
            e for e in data["timeline"] if e["member_id"] is None or e["member_id"] in mine
        ]
        data["report"] = {
            k: v for k, v in data["report"].items() if k not in ("came", "did_not_come")
        }
    for e in data["timeline"]:
        e.pop("member_id", None)
    return data


def _with_members(qs: Any) -> Any:
    from django.db.models import Prefetch

    return qs.prefetch_related(
        Prefetch(
            "members",
            queryset=Member.objects.select_related("person", "force").order_by("rank", "pk"),
        )
    )


def visible_one(user: Any, mob_id: int) -> Mobilisation:
    """A mobilisation the user may read: in their scope, or one that called them."""
    if not 1 <= mob_id <= MAX_ID:
        raise NotFound()
    mob = _with_members(mobilise.visible(user)).filter(pk=mob_id).first()
    if mob is None:
        mob = _with_members(
            Mobilisation.objects.filter(pk=mob_id, members__person__user=user)
        ).first()
    if mob is None:
        raise NotFound()
    return mob  # type: ignore[no-any-return]


@router.post("/mobilisations", response=responses(MobilisationDetail, 201))
def create_mobilisation(request: HttpRequest, body: MobilisationIn) -> Any:
    """一键调度：选出范围内最近的可调度在岗力量并通知。/ Start a mobilisation: the nearest
    available forces on duty in the caller's scope are selected and notified."""
    user = acting_user(request)
    mob = mobilise.start(
        user,
        area_id=body.area_id,
        polygon=body.polygon,
        point=body.point.model_dump() if body.point else None,
        roles=body.roles,
        skills=body.skills,
        head_count=body.head_count,
        message=body.message,
    )
    return Status(201, _detail(visible_one(user, mob.pk), user))


@router.get("/mobilisations", response=responses(Page[MobilisationOut]))
def list_mobilisations(
    request: HttpRequest, page: Query[PageParams], status: MobilisationStatus | None = None
) -> dict[str, Any]:
    """调度列表，最新在前。/ Mobilisations in the caller's scope, newest first."""
    qs = _with_members(mobilise.visible(acting_user(request)))
    if status:
        qs = qs.filter(status=status)
    result = paginate(qs, page)
    result["items"] = [_summary(m) for m in result["items"]]
    return result


@router.get("/mobilisations/{mobilisation_id}", response=responses(MobilisationDetail))
def get_mobilisation(request: HttpRequest, mobilisation_id: int) -> dict[str, Any]:
    """各环节人数、人员、时间线与复盘。/ Counts per step, members, timeline and report."""
    user = acting_user(request)
    return _detail(visible_one(user, mobilisation_id), user)


@router.post("/mobilisations/{mobilisation_id}/responses", response=responses(MemberOut, 201))
def post_response(request: HttpRequest, mobilisation_id: int, body: ResponseIn) -> Any:
    """记录一个环节：本人确认、出发、到场签到（带位置）、拒绝；工作人员可记录任何人的环节。
    / Record a step: one's own, or anyone's for staff supervising the place."""
    if not 1 <= mobilisation_id <= MAX_ID:
        raise NotFound()
    member = mobilise.respond(
        mobilisation_id,
        acting_user(request),
        step=body.step,
        member_id=body.member_id,
        lat=body.lat,
        lng=body.lng,
        note=body.note,
    )
    member = Member.objects.select_related("person", "force").get(pk=member.pk)
    return Status(201, _member(member))


@router.post("/mobilisations/{mobilisation_id}/close", response=responses(MobilisationOut))
def close_mobilisation(request: HttpRequest, mobilisation_id: int) -> dict[str, Any]:
    """结束调度，在途人员解散。/ Close: everyone still called is released."""
    if not 1 <= mobilisation_id <= MAX_ID:
        raise NotFound()
    user = acting_user(request)
    mobilise.close(mobilisation_id, user)
    return _summary(visible_one(user, mobilisation_id))


@router.post("/duty", response=responses(DutyOut))
def post_duty(request: HttpRequest, body: DutyIn) -> dict[str, Any]:
    """上岗（可带位置）或下岗，本人的力量身份。/ Go on duty (with a position) or off duty."""
    user = acting_user(request)
    forces = duty.forces_of(user)
    if body.force_id is not None:
        forces = [f for f in forces if f.pk == body.force_id]
    if not forces:
        raise NotFound("没有您的力量身份", "you serve as no force")
    force = forces[0]
    if body.on_duty:
        shift = duty.go_on_duty(force, actor=user, lat=body.lat, lng=body.lng)
    else:
        if (body.lat, body.lng) != (None, None):
            raise ValidationFailed("下岗不记录位置", "no location when going off duty", field="lat")
        shift = duty.go_off_duty(force, actor=user)
    return {
        "force_id": force.pk,
        "on_duty": force.on_duty,
        "started_at": shift.started_at,
        "ended_at": shift.ended_at,
    }
