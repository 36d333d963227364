"""Residents' feedback on partner projects: the satisfaction mailbox (满意度信箱) on the
resident's phone, the grid workers' return visits (网格员回访), and the supervision
group's verification of a negative rating.

- A resident rates (1–5, required) a project in operation that serves their community
  (:func:`projects_for_resident`), with optional words; once per project per day. A
  project outside their community is a 404, a second rating the same day a 409.
- A grid worker records a return visit for a resident of their grid (``Perm.SERVE``
  where the resident lives): the rating and the words are the resident's, and the
  worker confirms so (``confirmed``); the same once-a-day rule holds.
- The rating is the resident's alone: nothing here or elsewhere changes it.
- A negative rating (≤ 2) is verified once by a member of a supervision group watching
  the project, or by a holder of ``Perm.SUPERVISE`` there. Upheld, it costs the partner
  ``settings.PARTNERS_CREDIT_NEGATIVE_FEEDBACK`` (evidence ``feedback:<id>``, once);
  not upheld, nothing changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.community.residents import home_path, person_of
from jiayuan.community.rooms import clean_text
from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path, paths_above
from jiayuan.people.models import Person

from . import credit, stages
from .choices import CreditReason, FeedbackChannel
from .models import Feedback, Project, SupervisionGroup
from .supervision import check_id, is_group_member, member_project_ids

TEXT_MAX = 500
NEGATIVE = 2  # a rating at or below this is negative and may be verified
RATING_WORDS = {1: "很不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意"}


def serving_q(path: str, field: str = "area_path") -> Q:
    """Projects serving the area at ``path``: held in it, or in an area above it (a
    street's project serves its communities)."""
    return Q(**{f"{field}__startswith": path}) | Q(**{f"{field}__in": paths_above(path)})


def projects_for_resident(user: Any) -> QuerySet[Project]:
    """Projects in operation serving the signed-in resident's community (none for a user
    without a resident record)."""
    community = home_path(user, AreaKind.COMMUNITY)
    if community is None:
        return Project.objects.none()
    return (
        Project.objects.filter(stages.operating_q(), serving_q(community))
        .select_related("area", "partner", "position", "room")
        .order_by("area_path", "name", "pk")
    )


def _rating(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationFailed(
            "请选择 1 到 5 分", "the rating is a whole number 1–5", field="rating"
        )
    return value


def _day_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def _create(
    actor: Any,
    project: Project,
    person: Person,
    *,
    channel: str,
    rating: int,
    text: str,
    visited_by: Any = None,
) -> Feedback:
    """One rating of ``person`` on ``project``, refused (409) if they rated it today."""
    now = timezone.now()
    start, end = _day_bounds(now)
    with transaction.atomic():
        # The person's row lock serialises two ratings sent at once (a double tap).
        Person.objects.select_for_update().filter(pk=person.pk).first()
        if Feedback.objects.filter(
            project=project, person=person, submitted_at__gte=start, submitted_at__lt=end
        ).exists():
            raise Conflict(
                "今天已经评价过这个项目，明天再来吧",
                "this resident rated the project today already",
            )
        row = Feedback(
            project=project,
            person=person,
            channel=channel,
            rating=rating,
            text=text,
            submitted_at=now,
            visited_by=visited_by if getattr(visited_by, "pk", None) else None,
        )
        row.save()
        audit.record(AuditEntry.Action.CREATE, row, actor, audit.snapshot(row))
    return row


def submit(user: Any, project_id: int, *, rating: Any, text: str = "") -> Feedback:
    """满意度信箱: the signed-in resident rates a project serving their community."""
    person = person_of(user)
    if person is None:
        raise NotFound("项目不存在", "project not found")
    project = projects_for_resident(user).filter(pk=check_id(project_id, "项目", "project")).first()
    if project is None:
        raise NotFound("项目不存在", "project not found")
    return _create(
        user,
        project,
        person,
        channel=FeedbackChannel.MAILBOX,
        rating=_rating(rating),
        text=clean_text(text, field="text", label="意见", max_length=TEXT_MAX, required=False),
    )


def record_visit(
    actor: Any,
    project_id: int,
    *,
    person_id: int,
    rating: Any,
    text: str = "",
    confirmed: bool = False,
) -> Feedback:
    """网格员回访: a grid worker writes down a resident of their grid's rating of a project
    serving the resident's community. ``confirmed`` states that the rating and words are
    the resident's own (the form asks it)."""
    person = (
        Person.objects.visible_to(actor, Perm.SERVE)
        .filter(pk=check_id(person_id, "居民", "person"), death_date__isnull=True)
        .first()
    )
    if person is None:
        raise NotFound("居民不存在", "resident not found")
    try:
        community: str | None = ancestor_path(person.area_path, AreaKind.COMMUNITY)
    except ValueError:  # registered above a community
        community = None
    project = None
    if community is not None:
        project = (
            Project.objects.filter(stages.operating_q(), serving_q(community))
            .filter(pk=check_id(project_id, "项目", "project"))
            .first()
        )
    if project is None:
        raise NotFound("项目不存在或不服务该居民的社区", "project not found for this resident")
    rating = _rating(rating)
    text = clean_text(text, field="text", label="意见", max_length=TEXT_MAX, required=False)
    if confirmed is not True:
        raise ValidationFailed(
            "请确认评分和意见是居民本人的表达", "confirm the rating is the resident's own",
            field="confirmed",
        )  # fmt: skip
    return _create(
        actor,
        project,
        person,
        channel=FeedbackChannel.RETURN_VISIT,
        rating=rating,
        text=text,
        visited_by=actor,
    )


# --- reading ------------------------------------------------------------------------------
def feedback_visible_to(user: Any) -> QuerySet[Feedback]:
    """Feedback staff may read (their scope), that a supervision group member may read
    (the projects the group watches), and the return visits the user recorded."""
    q = scope_q(user, Perm.VIEW)
    watched = member_project_ids(user)
    if watched:
        q |= Q(project_id__in=watched)
    if getattr(user, "pk", None):
        q |= Q(visited_by=user)  # the grid worker's own return visits
    return Feedback.objects.filter(q).select_related(
        "project", "person", "visited_by", "verified_group"
    )


def own_feedback(user: Any) -> QuerySet[Feedback]:
    """The signed-in resident's own ratings."""
    person = person_of(user)
    if person is None:
        return Feedback.objects.none()
    return Feedback.objects.filter(person=person).select_related("project")


def get_feedback(user: Any, feedback_id: int) -> Feedback:
    row = feedback_visible_to(user).filter(pk=check_id(feedback_id, "评价", "feedback")).first()
    if row is None:
        raise NotFound("评价不存在", "feedback not found")
    return row


def shows_names(user: Any, row: Feedback) -> bool:
    """Staff of the area see who rated; a group member who is not staff there does not."""
    return path_allowed(user, row.area_path, Perm.VIEW)


def may_verify(user: Any, project: Project) -> bool:
    return path_allowed(user, project.area_path, Perm.SUPERVISE) or is_group_member(user, project)


# --- verifying ----------------------------------------------------------------------------
def verify(actor: Any, feedback_id: int, *, upheld: Any, note: str = "") -> Feedback:
    """The supervision group checks a negative rating: upheld → the partner loses
    ``PARTNERS_CREDIT_NEGATIVE_FEEDBACK`` points (once, evidence ``feedback:<id>``); not
    upheld → nothing changes. A rating is verified once; its value never changes."""
    row = get_feedback(actor, feedback_id)
    if not isinstance(upheld, bool):
        raise ValidationFailed("请选择是否属实", "upheld is true or false", field="upheld")
    note = clean_text(note, field="note", label="核实说明", max_length=200, required=False)
    if not may_verify(actor, row.project):
        raise PermissionDenied(
            "只有项目监督团成员或社区党组织可以核实差评",
            "only the project's supervision group or SUPERVISE holders verify feedback",
        )
    if row.rating > NEGATIVE:
        raise Conflict("只有差评（1–2 分）需要核实", "only ratings of 1 or 2 are verified")
    person = person_of(actor)
    group = None
    if person is not None:
        group = (
            SupervisionGroup.objects.filter(projects=row.project_id, members=person)
            .order_by("pk")
            .first()
        )
    with transaction.atomic():
        locked = (
            Feedback.objects.select_for_update(of=("self",))
            .select_related("project__partner")
            .get(pk=row.pk)
        )
        if locked.verified_at is not None:
            raise Conflict("这条评价已核实", "this feedback is verified already")
        partner = locked.project.partner
        if upheld and partner is None:
            raise Conflict("项目尚无合伙人", "the project has no partner")
        locked.verified_at = timezone.now()
        locked.verified_group = group
        locked.upheld = upheld
        locked.save(update_fields=["verified_at", "verified_group", "upheld", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            locked,
            actor,
            {
                "verified_at": [None, locked.verified_at.isoformat()],
                "upheld": [None, upheld],
                "verified_group": [None, group.pk if group else None],
            },
            note or ("差评属实" if upheld else "差评不属实"),
        )
        if upheld and partner is not None:
            credit.record(
                partner,
                settings.PARTNERS_CREDIT_NEGATIVE_FEEDBACK,
                CreditReason.NEGATIVE_FEEDBACK,
                note=note or f"{locked.project.name}差评经核实",
                evidence=f"feedback:{locked.pk}",
                decided_by=actor if getattr(actor, "pk", None) else None,
            )
    return locked
