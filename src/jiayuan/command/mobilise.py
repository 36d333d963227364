"""One-click mobilisation (一键调度): select, notify, track, escalate, top up, report.

Every change is a function here, used alike by the API, the pages, the periodic job and
``jiayuan simulate-mobilisation``; each takes ``now`` so a simulated clock can drive it.

- :func:`start` picks the nearest available forces in the creator's scope (on duty,
  inside their availability windows, not in another open mobilisation, of the wanted
  kinds with every wanted skill) and notifies them.
- :func:`respond` moves one member along :data:`TRANSITIONS` (an illegal step is 409).
- :func:`sweep` escalates members who have not acknowledged after ``N`` minutes
  (``COMMAND_ACK_MINUTES``) to their grid's leader, after ``2N`` to the community
  secretary — each level once, held by ``Member.escalation_level`` under a row lock and
  by a unique index on the timeline — and at ``3N`` counts them as timed out.
- :func:`top_up` calls the next nearest while the members still in play fall short of
  the head count, and never beyond it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.geo import distance_m, geometry
from jiayuan.core.models import AuditEntry
from jiayuan.core.notices import notify
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import path_allowed, scope_paths
from jiayuan.org import geo as org_geo
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.org.paths import ancestor_path
from jiayuan.people.choices import ForceKind, PositionRole
from jiayuan.people.models import Force, Position

from . import channels, duty
from .models import DutyShift, Member, Mobilisation, MobilisationEvent, MobilisationStatus, Step

MAX_HEAD_COUNT = 1000
MAX_MESSAGE = 500
DEFAULT_ACK_MINUTES = 5

S = Step
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NOTIFIED: frozenset({S.DELIVERED, S.ACKNOWLEDGED, S.DECLINED, S.TIMED_OUT, S.RELEASED}),
    S.DELIVERED: frozenset({S.ACKNOWLEDGED, S.DECLINED, S.TIMED_OUT, S.RELEASED}),
    S.ACKNOWLEDGED: frozenset({S.EN_ROUTE, S.CHECKED_IN, S.DECLINED, S.RELEASED}),
    S.EN_ROUTE: frozenset({S.CHECKED_IN, S.RELEASED}),
    S.CHECKED_IN: frozenset({S.RELEASED}),
    S.RELEASED: frozenset(),
    S.DECLINED: frozenset(),
    S.TIMED_OUT: frozenset(),
}
# steps the called person posts themselves; staff may post any; timing out is the job's
SELF_STEPS = frozenset({S.DELIVERED, S.ACKNOWLEDGED, S.EN_ROUTE, S.CHECKED_IN, S.DECLINED})
SYSTEM_STEPS = frozenset({S.TIMED_OUT})
OUT = frozenset({S.DECLINED, S.TIMED_OUT})  # no longer counted toward the head count
WAITING = frozenset({S.NOTIFIED, S.DELIVERED})  # not acknowledged yet
BUSY = frozenset({S.NOTIFIED, S.DELIVERED, S.ACKNOWLEDGED, S.EN_ROUTE, S.CHECKED_IN})
STEP_ORDER = [s.value for s in Step]


def ack_minutes() -> float:
    return float(getattr(settings, "COMMAND_ACK_MINUTES", DEFAULT_ACK_MINUTES))


# --- the place -------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    lat: float
    lng: float
    area: Area | None
    polygon: dict[str, Any] | None
    path: str


def _geometry(raw: Any) -> BaseGeometry:
    shape_in = geometry(raw) if isinstance(raw, dict) else None
    if not shape_in or shape_in.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationFailed(
            "范围须为 GeoJSON 多边形", "polygon must be GeoJSON", field="polygon"
        )
    try:
        geom = shape(shape_in)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        raise ValidationFailed("多边形无效", "invalid polygon", field="polygon") from None
    if geom.is_empty or not geom.is_valid or geom.area == 0:
        raise ValidationFailed("多边形无效", "invalid polygon", field="polygon")
    return geom


def _located_path(actor: Any, lat: float, lng: float, field: str) -> str:
    """The path of the deepest area under the point, which must be in the actor's scope."""
    found = org_geo.locate(lat, lng)
    if found is not None and path_allowed(actor, found.path, Perm.SUPERVISE):
        return found.path
    paths = scope_paths(actor, Perm.SUPERVISE)
    if "" in paths:
        return found.path if found is not None else ""
    raise ValidationFailed(
        "该地点不在您的管辖范围内", "the place is outside your scope", field=field
    )


def place(actor: Any, *, area_id: Any = None, polygon: Any = None, point: Any = None) -> Place:
    """Where the forces gather: an area (its centroid), a polygon (its centroid) or a
    point, in the actor's scope."""
    if area_id not in (None, ""):
        try:
            pk = int(area_id)
        except (TypeError, ValueError):
            raise NotFound() from None
        if not 1 <= pk <= 2**63 - 1:
            raise NotFound("区域不存在", "area not found")
        area = Area.objects.visible_to(actor, Perm.SUPERVISE).filter(pk=pk).first()
        if area is None:
            raise NotFound("区域不存在", "area not found")
        if area.centroid_lat is not None and area.centroid_lng is not None:
            lat, lng = area.centroid_lat, area.centroid_lng
        elif area.boundary:
            lat, lng = org_geo.centroid(geometry(area.boundary) or {})
        else:
            raise ValidationFailed("该区域没有位置", "the area has no location", field="area_id")
        return Place(lat, lng, area, None, area.path)
    if polygon not in (None, ""):
        geom = _geometry(polygon)
        c = geom.centroid
        lat, lng = float(c.y), float(c.x)
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValidationFailed("多边形超出范围", "polygon out of range", field="polygon")
        path = _located_path(actor, lat, lng, "polygon")
        return Place(lat, lng, None, geometry(polygon), path)
    if point not in (None, ""):
        if not isinstance(point, dict | list | tuple):
            raise ValidationFailed("集结点无效", "invalid point", field="point")
        lat_in, lng_in = (
            (point.get("lat"), point.get("lng"))
            if isinstance(point, dict)
            else [*point, None, None][:2]
        )
        found = duty.check_point(lat_in, lng_in)
        if found is None:
            raise ValidationFailed("集结点无效", "invalid point", field="point")
        lat, lng = found
        return Place(lat, lng, None, None, _located_path(actor, lat, lng, "point"))
    raise ValidationFailed(
        "请选择区域、绘制范围或给出集结点", "give an area, a polygon or a point", field="area_id"
    )


# --- selection -------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    force: Force
    distance: float


def _force_points(forces: list[Force]) -> dict[int, tuple[float, float]]:
    """Each force's position: the open shift's, else its area's (or nearest ancestor's)
    centroid."""
    shifts = dict(
        (f, (la, ln))
        for f, la, ln in DutyShift.objects.filter(
            force_id__in=[f.pk for f in forces], ended_at__isnull=True, lat__isnull=False
        ).values_list("force_id", "lat", "lng")
    )
    paths: set[str] = set()
    for f in forces:
        parts = f.area_path.rstrip("/").split("/")
        paths.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
    centres = {
        p: (la, ln)
        for p, la, ln in Area.objects.filter(
            path__in=paths, centroid_lat__isnull=False
        ).values_list("path", "centroid_lat", "centroid_lng")
    }
    out: dict[int, tuple[float, float]] = {}
    for f in forces:
        if f.pk in shifts:
            out[f.pk] = shifts[f.pk]
            continue
        parts = f.area_path.rstrip("/").split("/")
        for i in range(len(parts), 0, -1):
            found = centres.get("/".join(parts[:i]) + "/")
            if found is not None:
                out[f.pk] = found
                break
    return out


def candidates(
    actor: Any,
    *,
    lat: float,
    lng: float,
    roles: Iterable[str] = (),
    skills: Iterable[str] = (),
    now: dt.datetime,
    exclude: Iterable[int] = (),
    perm: str = Perm.SUPERVISE,
) -> list[Candidate]:
    """The available forces ``actor`` may call, nearest first.

    Available: on duty (an open shift), inside an availability window at ``now``, not a
    member still in play of another open mobilisation. Only forces in the actor's scope
    are considered at all, however near another one is."""
    busy = Member.objects.filter(mobilisation__status=MobilisationStatus.OPEN, step__in=BUSY)
    qs = (
        Force.objects.visible_to(actor, perm)
        .filter(on_duty=True)
        .filter(pk__in=DutyShift.objects.filter(ended_at__isnull=True).values("force_id"))
        .exclude(pk__in=busy.values("force_id"))
        .exclude(pk__in=list(exclude))
        .select_related("person", "availability")
    )
    roles = [r for r in roles if r]
    if roles:
        qs = qs.filter(kind__in=roles)
    forces = [f for f in qs if f.person.death_date is None]
    wanted = set(skills)
    if wanted:
        forces = [f for f in forces if wanted <= set(f.skills or [])]
    forces = [f for f in forces if duty.available(_windows(f), now)]
    points = _force_points(forces)
    found = [Candidate(f, distance_m(lat, lng, *points[f.pk])) for f in forces if f.pk in points]
    found.sort(key=lambda c: (c.distance, c.force.pk))
    return found


def _windows(force: Force) -> list[dict[str, Any]]:
    try:
        return list(force.availability.windows)  # type: ignore[attr-defined]
    except Force.availability.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return []


# --- starting --------------------------------------------------------------------------
def _clean_list(raw: Any, allowed: Iterable[str] | None, field: str) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or len(raw) > 20:
        raise ValidationFailed("列表无效", "invalid list", field=field)
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip() or len(item) > 40:
            raise ValidationFailed("列表项无效", "invalid item", field=field)
        if allowed is not None and item not in allowed:
            raise ValidationFailed("力量类别无效", "unknown force kind", field=field)
        if item.strip() not in out:
            out.append(item.strip())
    return out


def _event(
    mob: Mobilisation,
    kind: str,
    *,
    at: dt.datetime,
    member: Member | None = None,
    step: str = "",
    level: int = 0,
    actor: Any = None,
    note: str = "",
) -> MobilisationEvent:
    return MobilisationEvent.objects.create(
        mobilisation=mob,
        member=member,
        at=at,
        kind=kind,
        step=step,
        level=level,
        actor_name=(getattr(actor, "username", "") or "system")[:150],
        note=note[:200],
    )


def link(mob: Mobilisation) -> str:
    return reverse("command:phone_mobilisation", args=[mob.pk])


def _claim(picked: list[Candidate]) -> list[Candidate]:
    """Lock the picked forces' rows (in primary-key order, so two mobilisations never
    wait on each other crosswise) and drop any that another open mobilisation called
    since they were selected; the next sweep tops up for them."""
    ids = sorted(c.force.pk for c in picked)
    list(Force.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    taken = set(
        Member.objects.filter(
            force_id__in=ids, mobilisation__status=MobilisationStatus.OPEN, step__in=BUSY
        ).values_list("force_id", flat=True)
    )
    return [c for c in picked if c.force.pk not in taken]


def _call(
    mob: Mobilisation, picked: list[Candidate], first_rank: int, now: dt.datetime
) -> list[Member]:
    """Make members of ``picked`` and notify each through the personal channels."""
    members = []
    picked = _claim(picked)
    for i, cand in enumerate(picked):
        members.append(
            Member.objects.create(
                mobilisation=mob,
                force=cand.force,
                person=cand.force.person,
                rank=first_rank + i,
                distance_m=round(cand.distance, 1),
                step=S.NOTIFIED,
                notified_at=now,
                step_at=now,
            )
        )
    for m in members:
        _event(mob, MobilisationEvent.Kind.STEP, at=now, member=m, step=S.NOTIFIED)
        message = channels.Message(
            person=m.person,
            user=m.person.user,
            title=f"调度 {mob.number}",
            body=mob.message,
            link=link(mob),
            ref=mob.number,
        )
        if channels.send_personal(message, now):
            _move(m, S.DELIVERED, now=now)
    if members:
        names = "、".join(m.person.name for m in members)
        channels.GROUP.send(
            channels.Message(
                person=members[0].person,
                user=None,
                title=f"调度 {mob.number}",
                body=f"{mob.message}\n被调度：{names}",
                link=link(mob),
                ref=mob.number,
            ),
            now,
        )
    return members


def start(
    actor: Any,
    *,
    area_id: Any = None,
    polygon: Any = None,
    point: Any = None,
    roles: Any = None,
    skills: Any = None,
    head_count: Any,
    message: str,
    source: str = "",
    now: dt.datetime | None = None,
) -> Mobilisation:
    """一键调度: select the nearest available forces in scope and notify them."""
    now = now or timezone.now()
    if not scope_paths(actor, Perm.SUPERVISE):
        raise PermissionDenied("没有发起调度的权限", "you may not start a mobilisation")
    try:
        count = int(head_count)
    except (TypeError, ValueError):
        raise ValidationFailed("人数无效", "invalid head count", field="head_count") from None
    if not 1 <= count <= MAX_HEAD_COUNT:
        raise ValidationFailed("人数须在 1 到 1000 之间", "head count 1–1000", field="head_count")
    text = (message or "").strip()
    if not text or len(text) > MAX_MESSAGE or "\x00" in text:
        raise ValidationFailed(
            "调度指令须为 1–500 字", "message of 1–500 characters", field="message"
        )
    kinds = _clean_list(roles, ForceKind.values, "roles")
    wanted = _clean_list(skills, None, "skills")
    where = place(actor, area_id=area_id, polygon=polygon, point=point)
    with transaction.atomic():
        found = candidates(actor, lat=where.lat, lng=where.lng, roles=kinds, skills=wanted, now=now)
        if not found:
            raise Conflict("范围内没有可调度的在岗力量", "no available force in scope")
        mob = Mobilisation.objects.create(
            number=f"DD{timezone.localtime(now):%Y%m%d%H%M}{secrets.token_hex(2).upper()}",
            area=where.area,
            polygon=where.polygon,
            lat=where.lat,
            lng=where.lng,
            roles=kinds,
            skills=wanted,
            head_count=count,
            message=text,
            source=source[:40],
            created_by=actor if getattr(actor, "pk", None) else None,
            created_by_name=getattr(actor, "username", "") or "system",
            area_path=where.path,
            created_at=now,
        )
        Mobilisation.objects.filter(pk=mob.pk).update(area_path=where.path)
        mob.area_path = where.path
        _event(mob, MobilisationEvent.Kind.CREATED, at=now, actor=actor, note=f"所需 {count} 人")
        _call(mob, found[:count], 1, now)
        audit.record(AuditEntry.Action.CREATE, mob, actor, audit.snapshot(mob), "一键调度")
    return mob


# --- steps -----------------------------------------------------------------------------
def _move(
    member: Member,
    step: str,
    *,
    now: dt.datetime,
    actor: Any = None,
    lat: float | None = None,
    lng: float | None = None,
    note: str = "",
) -> None:
    if step not in TRANSITIONS[member.step]:
        raise Conflict(
            f"当前环节“{Step(member.step).label}”不能变为“{Step(step).label}”",
            f"cannot go from {member.step} to {step}",
            field="step",
        )
    member.step = step
    member.step_at = now
    fields = ["step", "step_at"]
    if step == S.ACKNOWLEDGED and member.acknowledged_at is None:
        member.acknowledged_at = now
        fields.append("acknowledged_at")
    if step == S.CHECKED_IN:
        member.checked_in_at = now
        member.checkin_lat, member.checkin_lng = lat, lng
        fields += ["checked_in_at", "checkin_lat", "checkin_lng"]
    member.save(update_fields=fields)
    _event(
        member.mobilisation,
        MobilisationEvent.Kind.STEP,
        at=now,
        member=member,
        step=step,
        actor=actor,
        note=note,
    )


def member_of(mob: Mobilisation, user: Any) -> Member | None:
    """The member of ``mob`` the signed-in user is (their own call), if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Member.objects.select_related("person", "mobilisation")
        .filter(mobilisation=mob, person__user=user)
        .first()
    )


def respond(
    mob_id: int,
    actor: Any,
    *,
    step: str,
    member_id: int | None = None,
    lat: Any = None,
    lng: Any = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Member:
    """Record one step of a member: their own (acknowledge, en route, check in with a
    location, decline) or, for staff supervising the place, anyone's (and release)."""
    now = now or timezone.now()
    if step not in Step.values:
        raise ValidationFailed("环节无效", "unknown step", field="step")
    point = duty.check_point(lat, lng)
    with transaction.atomic():
        mob = Mobilisation.objects.select_for_update().filter(pk=mob_id).first()
        if mob is None:
            raise NotFound()
        staff = path_allowed(actor, mob.area_path, Perm.SUPERVISE)
        own = member_of(mob, actor)
        target: Member | None
        if member_id is None or (own is not None and own.pk == member_id):
            target = own
            if target is None:
                if staff:
                    raise ValidationFailed("请指定被调度人员", "give member_id", field="member_id")
                raise NotFound()
        else:
            if not staff:
                if own is None and not path_allowed(actor, mob.area_path, Perm.VIEW):
                    raise NotFound()
                raise PermissionDenied("只能报告本人的环节", "you may post your own steps only")
            target = (
                Member.objects.select_related("person")
                .filter(mobilisation=mob, pk=member_id)
                .first()
            )
            if target is None:
                raise NotFound("被调度人员不存在", "member not found")
        if step in SYSTEM_STEPS or (not staff and step not in SELF_STEPS):
            raise PermissionDenied("不能报告该环节", "you may not post this step")
        if mob.status != MobilisationStatus.OPEN:
            raise Conflict("调度已结束", "the mobilisation is closed")
        if step == S.CHECKED_IN and point is None and target is own:
            raise ValidationFailed("到场签到需要位置", "check-in needs a location", field="lat")
        target.mobilisation = mob
        _move(
            target,
            step,
            now=now,
            actor=actor,
            lat=point[0] if point else None,
            lng=point[1] if point else None,
            note=(note or "")[:200],
        )
        _milestones(mob, now)
        if step in OUT:
            top_up(mob, now)
    return target


def _milestones(mob: Mobilisation, now: dt.datetime) -> None:
    members = Member.objects.filter(mobilisation=mob)
    if mob.first_ack_at is None and members.filter(acknowledged_at__isnull=False).exists():
        mob.first_ack_at = now
        mob.save(update_fields=["first_ack_at"])
    committed = members.filter(acknowledged_at__isnull=False).exclude(step__in=OUT).count()
    if mob.head_count_at is None and committed >= mob.head_count:
        mob.head_count_at = now
        mob.save(update_fields=["head_count_at"])
        _event(mob, MobilisationEvent.Kind.HEAD_COUNT, at=now, note=f"{committed} 人已确认")
    arrived = members.filter(checked_in_at__isnull=False).count()
    if mob.assembled_at is None and arrived >= mob.head_count:
        mob.assembled_at = now
        mob.save(update_fields=["assembled_at"])
        _event(mob, MobilisationEvent.Kind.ASSEMBLED, at=now, note=f"{arrived} 人已到场")


# --- escalation and top-up --------------------------------------------------------------
def _users_with_position(path: str, roles: Iterable[str]) -> list[Any]:
    return [
        p.person.user
        for p in Position.objects.select_related("person__user").filter(
            area_path=path, role__in=list(roles), end__isnull=True, person__user__isnull=False
        )
    ]


def _users_with_membership(path: str, role: str) -> list[Any]:
    return [
        m.user
        for m in Membership.objects.select_related("user").filter(
            area_path=path, role=role, active=True
        )
    ]


def escalation_targets(member: Member, level: int) -> list[Any]:
    """Level 1: the leader of the member's grid (its grid workers); level 2: the
    community's secretary (or its staff when no secretary has an account)."""
    path = member.force.area_path
    try:
        if level == 1:
            grid = ancestor_path(path, AreaKind.GRID)
            users = _users_with_position(grid, [PositionRole.GRID_WORKER])
            users += _users_with_membership(grid, Role.GRID_WORKER)
        else:
            community = ancestor_path(path, AreaKind.COMMUNITY)
            users = _users_with_position(community, [PositionRole.SECRETARY])
            if not users:
                users = _users_with_membership(community, Role.COMMUNITY_STAFF)
    except ValueError:  # the force serves above a grid (or a community)
        return []
    own = member.person.user_id
    return [u for u in users if u.pk != own]


def _escalate(member: Member, level: int, now: dt.datetime) -> None:
    mob = member.mobilisation
    targets = escalation_targets(member, level)
    who = "网格长" if level == 1 else "社区书记"
    notify(
        targets,
        kind="mobilisation_escalated",
        title=f"{member.person.name} 未确认调度 {mob.number}",
        body=f"已超过 {int(ack_minutes() * level)} 分钟未确认：{mob.message}",
        link=reverse("command:detail", args=[mob.pk]),
        ref=mob.number,
    )
    names = "、".join(sorted({getattr(u, "username", "") for u in targets})) or "无账号可通知"
    _event(
        mob,
        MobilisationEvent.Kind.ESCALATED,
        at=now,
        member=member,
        level=level,
        note=f"提级至{who}：{names}",
    )


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic check of every open mobilisation: escalate, time out, top up."""
    now = now or timezone.now()
    done = {"escalated": 0, "timed_out": 0, "topped_up": 0}
    for mob_id in Mobilisation.objects.filter(status=MobilisationStatus.OPEN).values_list(
        "pk", flat=True
    ):
        result = sweep_one(mob_id, now)
        for key in done:
            done[key] += result[key]
    return done


def sweep_one(mob_id: int, now: dt.datetime) -> dict[str, int]:
    minutes = ack_minutes()
    done = {"escalated": 0, "timed_out": 0, "topped_up": 0}
    with transaction.atomic():
        mob = Mobilisation.objects.select_for_update().filter(pk=mob_id).first()
        if mob is None or mob.status != MobilisationStatus.OPEN:
            return done
        waiting = (
            Member.objects.select_for_update()
            .select_related("person", "force")
            .filter(mobilisation=mob, step__in=WAITING)
        )
        for member in waiting:
            member.mobilisation = mob
            waited = (now - member.notified_at).total_seconds() / 60
            due = min(int(waited // minutes), 3) if minutes > 0 else 3
            for level in range(member.escalation_level + 1, min(due, 2) + 1):
                _escalate(member, level, now)
                member.escalation_level = level
                member.save(update_fields=["escalation_level"])
                done["escalated"] += 1
            if due >= 3:
                _move(member, S.TIMED_OUT, now=now, note="超时未确认")
                done["timed_out"] += 1
        done["topped_up"] = len(top_up(mob, now))
        _milestones(mob, now)
    return done


def top_up(mob: Mobilisation, now: dt.datetime) -> list[Member]:
    """Call the next nearest while the members in play are fewer than the head count."""
    members = Member.objects.filter(mobilisation=mob)
    in_play = (
        members.exclude(step__in=OUT)
        .exclude(Q(step=S.RELEASED) & Q(checked_in_at__isnull=True))
        .count()
    )
    need = mob.head_count - in_play
    if need <= 0 or mob.status != MobilisationStatus.OPEN:
        return []
    creator = mob.created_by
    if creator is None:
        return []
    found = candidates(
        creator,
        lat=mob.lat,
        lng=mob.lng,
        roles=mob.roles,
        skills=mob.skills,
        now=now,
        exclude=members.values_list("force_id", flat=True),
    )
    if not found:
        return []
    last = members.order_by("-rank").values_list("rank", flat=True).first() or 0
    called = _call(mob, found[:need], last + 1, now)
    _event(mob, MobilisationEvent.Kind.TOPPED_UP, at=now, note=f"补充 {len(called)} 人")
    return called


def close(mob_id: int, actor: Any, now: dt.datetime | None = None) -> Mobilisation:
    """End the mobilisation: everyone still in play is released."""
    now = now or timezone.now()
    with transaction.atomic():
        mob = Mobilisation.objects.select_for_update().filter(pk=mob_id).first()
        if mob is None or not path_allowed(actor, mob.area_path, Perm.VIEW):
            raise NotFound()
        if not path_allowed(actor, mob.area_path, Perm.SUPERVISE):
            raise PermissionDenied()
        if mob.status != MobilisationStatus.OPEN:
            raise Conflict("调度已结束", "the mobilisation is closed")
        for member in Member.objects.select_related("mobilisation").filter(
            mobilisation=mob, step__in=BUSY
        ):
            _move(member, S.RELEASED, now=now, actor=actor, note="调度结束")
        mob.status = MobilisationStatus.CLOSED
        mob.closed_at = now
        mob.save(update_fields=["status", "closed_at"])
        _event(mob, MobilisationEvent.Kind.CLOSED, at=now, actor=actor)
        audit.record(
            AuditEntry.Action.UPDATE, mob, actor, {"status": ["open", "closed"]}, "结束调度"
        )
    return mob


# --- reading ---------------------------------------------------------------------------
def visible(user: Any) -> Any:
    return Mobilisation.objects.visible_to(user)


def with_members(qs: Any) -> Any:
    return qs.prefetch_related(
        Prefetch("members", queryset=Member.objects.select_related("person").order_by("rank", "pk"))
    )


def counts(members: Iterable[Member]) -> dict[str, int]:
    out = dict.fromkeys(STEP_ORDER, 0)
    for m in members:
        out[m.step] += 1
    return out


def timeline(mob: Mobilisation) -> list[MobilisationEvent]:
    return list(
        MobilisationEvent.objects.filter(mobilisation=mob)
        .select_related("member__person")
        .order_by("at", "pk")
    )


def _minutes(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() / 60, 1)


def report(mob: Mobilisation, members: list[Member] | None = None) -> dict[str, Any]:
    """The after-action report (复盘): times to first acknowledgement, to the head count
    and to everyone on site; who came and who did not."""
    members = (
        members
        if members is not None
        else list(
            Member.objects.filter(mobilisation=mob).select_related("person").order_by("rank", "pk")
        )
    )
    came = [m for m in members if m.checked_in_at is not None]
    missed = [m for m in members if m.checked_in_at is None]
    return {
        "head_count": mob.head_count,
        "called": len(members),
        "acknowledged": sum(1 for m in members if m.acknowledged_at is not None),
        "came": [{"name": m.person.name, "rank": m.rank, "step": m.step} for m in came],
        "did_not_come": [{"name": m.person.name, "rank": m.rank, "step": m.step} for m in missed],
        "minutes_to_first_ack": _minutes(mob.created_at, mob.first_ack_at),
        "minutes_to_head_count": _minutes(mob.created_at, mob.head_count_at),
        "minutes_to_assembled": _minutes(mob.created_at, mob.assembled_at),
        "escalations": MobilisationEvent.objects.filter(
            mobilisation=mob, kind=MobilisationEvent.Kind.ESCALATED
        ).count(),
    }
