"""Actions on a compound's topic (议题): raise it, add proposals, open the vote (taking the
census), take votes (the resident's own, or a paper vote entered by staff), close the vote
into a resolution, follow it up with tasks, or raise it to the street as a case.

Each action checks who acts and the topic's state (the table :data:`TRANSITIONS`), changes
rows in one transaction with the topic locked, and writes its audit entry. Pages and the
API call these and nothing else.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.incidents import incident_closed, raise_incident, register_kind
from jiayuan.core.models import AuditEntry
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from ..choices import TaskStatus, TopicStatus, VoteChoice
from ..models import (
    CensusEntry,
    FollowUpTask,
    MatterType,
    Proposal,
    Resolution,
    Topic,
    Vote,
)
from ..residents import person_of
from . import census, voting
from .matters import Rule
from .queries import require_serve

S = TopicStatus
# The topic's state machine: action → (states it may start from, state it ends in;
# ``None`` keeps the state, closing the vote decides between passed and rejected).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "propose": (frozenset({S.PROPOSED, S.DISCUSSING, S.SCHEDULED}), None),
    "schedule": (frozenset({S.PROPOSED, S.DISCUSSING, S.SCHEDULED}), S.SCHEDULED),
    "open_voting": (frozenset({S.PROPOSED, S.DISCUSSING, S.SCHEDULED}), S.VOTING),
    "vote": (frozenset({S.VOTING}), None),
    "close_voting": (frozenset({S.VOTING}), None),
    "add_task": (frozenset({S.PASSED}), None),
    "update_task": (frozenset({S.PASSED}), None),
    "escalate": (
        frozenset({S.PROPOSED, S.DISCUSSING, S.SCHEDULED, S.PASSED, S.REJECTED}),
        S.ESCALATED,
    ),
    "case_closed": (frozenset({S.ESCALATED}), S.CLOSED),
}
ACTION_LABELS = {
    "propose": "添加方案", "schedule": "安排会议", "open_voting": "开始表决", "vote": "投票",
    "close_voting": "结束表决", "add_task": "添加落实任务", "update_task": "更新任务进度",
    "escalate": "提级帮办", "case_closed": "办结",
}  # fmt: skip
TITLE_MAX = 120
TEXT_MAX = 5000
# The category a topic raised to the street is filed under unless the caller names one:
# 其他 (handled by the community, as the request loop's catalogue says).
ESCALATION_CATEGORY = "10"
KEY_KIND = "topic"  # incident keys "topic:<id>"
VOTING_HORIZON = dt.timedelta(days=366)


# --- input ---------------------------------------------------------------------------------
def clean_text(value: Any, *, field: str, label: str, max_len: int, required: bool = True) -> str:
    """Trimmed text without control characters (a NUL would break PostgreSQL), at most
    ``max_len`` characters; empty only when not ``required``."""
    text = "" if value is None else str(value).strip()
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise ValidationFailed(
            f"{label}含有不可见的控制字符", f"{field} contains control characters", field=field
        )
    if required and not text:
        raise ValidationFailed(f"请填写{label}", f"{field} is required", field=field)
    if len(text) > max_len:
        raise ValidationFailed(
            f"{label}不能超过{max_len}个字", f"{field} is longer than {max_len}", field=field
        )
    return text


def check(topic: Topic, action: str) -> str | None:
    """Raise :class:`Conflict` unless ``action`` may start from the topic's state; returns
    the state it ends in."""
    sources, target = TRANSITIONS[action]
    if topic.status not in sources:
        raise Conflict(
            f"议题{topic.get_status_display()}，不能{ACTION_LABELS[action]}",
            f"a {topic.status} topic does not allow {action}",
            field="status",
        )
    return target


def _locked(topic: Topic) -> Topic:
    """``topic`` re-read under a row lock (PostgreSQL): two closes, or a vote and the
    close, never interleave."""
    fresh = (
        Topic.objects.select_for_update()
        .select_related("zone", "matter_type")
        .filter(pk=topic.pk)
        .first()
    )
    if fresh is None:
        raise NotFound()
    return fresh


def _move(topic: Topic, actor: Any, target: str | None, note: str, **fields: Any) -> None:
    before = {"status": topic.status, **{k: audit._plain(getattr(topic, k)) for k in fields}}
    if target is not None:
        topic.status = target
    for name, value in fields.items():
        setattr(topic, name, value)
    topic.save()
    after = {"status": topic.status, **{k: audit._plain(getattr(topic, k)) for k in fields}}
    audit.record(AuditEntry.Action.UPDATE, topic, actor, audit.diff(before, after), note)


# --- topics and proposals ----------------------------------------------------------------------
def create_topic(
    actor: Any,
    *,
    zone: Area,
    title: Any,
    matter_type: MatterType,
    description: Any = "",
    raised_by: Any = None,
) -> Topic:
    """Raise a topic in compound ``zone`` (staff serving it)."""
    if zone.kind != AreaKind.ZONE:
        raise ValidationFailed("议题须属于一个小区", "a topic belongs to a compound", field="zone")
    require_serve(actor, zone.path)
    topic = Topic(
        zone=zone,
        title=clean_text(title, field="title", label="议题", max_len=TITLE_MAX),
        description=clean_text(
            description, field="description", label="说明", max_len=TEXT_MAX, required=False
        ),
        matter_type=matter_type,
        raised_by=raised_by,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    with transaction.atomic():
        topic.save()
        audit.record(AuditEntry.Action.CREATE, topic, actor, audit.snapshot(topic), "新议题")
    return topic


def add_proposal(
    actor: Any, topic: Topic, *, title: Any, body: Any = "", author_name: Any = ""
) -> Proposal:
    """Add a proposal (方案) to a topic under discussion; the topic moves to 协商讨论."""
    require_serve(actor, topic.area_path)
    proposal = Proposal(
        title=clean_text(title, field="title", label="方案", max_len=TITLE_MAX),
        body=clean_text(body, field="body", label="内容", max_len=TEXT_MAX, required=False),
        author_name=clean_text(
            author_name, field="author_name", label="提出人", max_len=100, required=False
        ),
    )
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "propose")
        proposal.topic = topic
        proposal.save()
        if topic.status == S.PROPOSED:
            _move(topic, actor, S.DISCUSSING, "添加方案")
    return proposal


# --- voting --------------------------------------------------------------------------------------
def open_voting(actor: Any, topic: Topic, *, closes_at: dt.datetime | None = None) -> Topic:
    """Open the vote: take the census (the compound's households or owners' exclusive
    parts) and let each entry vote once."""
    require_serve(actor, topic.area_path)
    now = timezone.now()
    if closes_at is not None and not now < closes_at <= now + VOTING_HORIZON:
        raise ValidationFailed(
            "表决截止时间须在现在之后一年之内", "voting must close within a year from now",
            field="closes_at",
        )  # fmt: skip
    with transaction.atomic():
        topic = _locked(topic)
        target = check(topic, "open_voting")
        taken = census.take(topic)
        if not taken and not CensusEntry.objects.filter(topic=topic).exists():
            raise ValidationFailed(
                "小区没有可参加表决的户或业主", "the compound has nobody to vote", field="census"
            )
        _move(
            topic, actor, target, f"开始表决，表决名册 {taken} 个",
            voting_opens_at=now, voting_closes_at=closes_at,
        )  # fmt: skip
    return topic


def _parse_choice(choice: Any) -> str:
    if choice not in VoteChoice.values:
        raise ValidationFailed(
            "请选择同意、反对或弃权", "choice must be yes, no or abstain", field="choice"
        )
    return str(choice)


def motion(topic: Topic) -> Proposal | None:
    """The proposal put to the vote: the last one added (proposals are closed once the
    vote opens), or none when the topic itself is voted on."""
    return topic.proposals.order_by("-created_at", "-pk").first()


def _insert_vote(topic: Topic, entry: CensusEntry, vote: Vote, actor: Any, note: str) -> Vote:
    """Write ``vote`` on the topic's motion: one per census entry, never replaced (the
    unique constraint holds it under concurrency too; a lost race answers the same 409)."""
    refused = Conflict(
        f"{entry.label} 已经投过票，每户（每个专有部分）只能投一票，不能更改",
        "this household or dwelling has already voted; a vote is never replaced",
        field="entry",
    )
    if Vote.objects.filter(topic=topic, entry=entry).exists():
        raise refused
    vote.proposal = motion(topic)
    try:
        with transaction.atomic():
            vote.save()
    except IntegrityError as exc:
        raise refused from exc
    audit.record(
        AuditEntry.Action.CREATE, topic, actor,
        {"vote": [None, {"entry": entry.pk, "choice": vote.choice, "paper": vote.paper}]}, note,
    )  # fmt: skip
    return vote


def cast_vote(user: Any, topic: Topic, *, choice: Any, entry_id: Any = None) -> Vote:
    """The resident's own vote for their household or dwelling (the census entry whose
    voter they are). Someone outside the census is refused."""
    choice = _parse_choice(choice)
    person = person_of(user)
    entries = CensusEntry.objects.filter(topic=topic)
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "vote")
        _still_open(topic)
        mine = entries.filter(voter=person) if person is not None else entries.none()
        if entry_id is not None:
            mine = mine.filter(pk=entry_id)
        entry = mine.order_by("pk").first()
        if entry is None:
            raise PermissionDenied(
                "您不在本议题的表决名册中（按户表决由户主投票，按业主表决由房屋的户主投票）",
                "you are not in this topic's census",
            )
        vote = Vote(topic=topic, entry=entry, choice=choice, cast_by=person)
        return _insert_vote(topic, entry, vote, user, "居民投票")


def paper_vote(actor: Any, topic: Topic, *, entry_id: Any, choice: Any) -> Vote:
    """A paper vote (纸质票) entered by staff for a census entry (an elderly resident,
    an owner not living there), marked as such with who entered it."""
    require_serve(actor, topic.area_path)
    choice = _parse_choice(choice)
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "vote")
        _still_open(topic)
        try:
            entry = CensusEntry.objects.get(topic=topic, pk=int(entry_id))
        except (CensusEntry.DoesNotExist, TypeError, ValueError, OverflowError) as exc:
            raise ValidationFailed(
                "该户不在本议题的表决名册中", "the entry is not in this topic's census",
                field="entry_id",
            ) from exc  # fmt: skip
        vote = Vote(
            topic=topic, entry=entry, choice=choice, cast_by=entry.voter, paper=True,
            entered_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        return _insert_vote(topic, entry, vote, actor, "录入纸质票")


def _still_open(topic: Topic) -> None:
    if topic.voting_closes_at is not None and topic.voting_closes_at <= timezone.now():
        raise Conflict("表决已截止", "voting has closed", field="status")


def count(topic: Topic) -> voting.Tally:
    """The tally of ``topic``'s census and votes so far, by its matter type's rule."""
    voted = dict(Vote.objects.filter(topic=topic).values_list("entry_id", "choice"))
    ballots = [
        voting.Ballot(area=area, choice=voted.get(pk))
        for pk, area in CensusEntry.objects.filter(topic=topic).values_list("pk", "floor_area")
    ]
    return voting.tally(ballots, Rule.of(topic.matter_type))


def close_voting(actor: Any, topic: Topic) -> Resolution:
    """Close the vote: count it by the matter type's rule and record the resolution
    (通过 / 未通过) with the whole tally."""
    require_serve(actor, topic.area_path)
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "close_voting")
        result = count(topic)
        heads = result.headcount
        text = (
            f"{topic.matter_type.name}：参与表决 {heads.participating}/{heads.total} "
            f"（{voting._pct(heads.participation)}%），同意 {heads.yes}"
            f"（占参与 {voting._pct(heads.approval)}%）"
        )
        if result.area is not None:
            area = result.area
            text += (
                f"；专有部分面积参与 {voting._pct(area.participation)}%，"
                f"同意 {voting._pct(area.approval)}%"
            )
        if not result.quorum_met:
            text += "。参与表决未达法定比例，不能形成决定。"
        else:
            text += "。表决通过。" if result.passed else "。同意未达法定比例，未通过。"
        resolution = Resolution.objects.create(
            topic=topic, passed=result.passed, tally=result.as_json(), text=text
        )
        target = S.PASSED if result.passed else S.REJECTED
        _move(
            topic,
            actor,
            target,
            "结束表决",
            voting_closes_at=topic.voting_closes_at or timezone.now(),
        )
    return resolution


# --- follow-up ---------------------------------------------------------------------------------
def add_task(
    actor: Any, topic: Topic, *, title: Any, owner: Any = "", due_on: dt.date | None = None
) -> FollowUpTask:
    """A follow-up task (落实任务) of a passed topic, tracked in public."""
    require_serve(actor, topic.area_path)
    task = FollowUpTask(
        title=clean_text(title, field="title", label="任务", max_len=TITLE_MAX),
        owner=clean_text(owner, field="owner", label="责任方", max_len=100, required=False),
        due_on=due_on,
    )
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "add_task")
        task.topic = topic
        task.save()
        audit.record(
            AuditEntry.Action.UPDATE, topic, actor, {"task": [None, task.title]}, "添加落实任务"
        )
    return task


def update_task(
    actor: Any, task: FollowUpTask, *, progress: Any = None, status: Any = None, note: Any = None
) -> FollowUpTask:
    """Move a task on: progress in percent (100 means done), status, a public note."""
    topic = task.topic
    require_serve(actor, topic.area_path)
    changes: dict[str, Any] = {}
    if progress is not None:
        if isinstance(progress, bool) or not isinstance(progress, int) or not 0 <= progress <= 100:
            raise ValidationFailed(
                "进度须为0到100之间的整数", "progress must be an integer 0-100", field="progress"
            )
        changes["progress"] = progress
    if status is not None:
        if status not in TaskStatus.values:
            raise ValidationFailed("任务状态无效", "invalid task status", field="status")
        changes["status"] = status
    if note is not None:
        changes["note"] = clean_text(
            note, field="note", label="进展说明", max_len=300, required=False
        )
    if changes.get("progress") == 100 and "status" not in changes:
        changes["status"] = TaskStatus.DONE
    if changes.get("status") == TaskStatus.DONE:
        changes["progress"] = 100
    elif "progress" in changes and "status" not in changes and changes["progress"] > 0:
        changes["status"] = TaskStatus.DOING
    with transaction.atomic():
        topic = _locked(topic)
        check(topic, "update_task")
        task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
        before = {k: audit._plain(getattr(task, k)) for k in changes}
        for name, value in changes.items():
            setattr(task, name, value)
        task.done_at = timezone.now() if task.status == TaskStatus.DONE else None
        task.save()
        after = {k: audit._plain(getattr(task, k)) for k in changes}
        audit.record(
            AuditEntry.Action.UPDATE, topic, actor,
            {f"task {task.pk}": [before, after]}, "更新任务进度",
        )  # fmt: skip
        if not topic.tasks.exclude(status=TaskStatus.DONE).exists():
            _move(topic, actor, S.CLOSED, "落实任务全部完成，议题办结")
    return task


# --- the street --------------------------------------------------------------------------------
def escalate(actor: Any, topic: Topic, *, category_code: Any = None, note: Any = "") -> str:
    """Raise the topic to the street as a case (提级帮办) through the request loop's intake
    (:func:`jiayuan.core.incidents.raise_incident`); stores and returns the case number."""
    require_serve(actor, topic.area_path)
    code = clean_text(
        category_code or ESCALATION_CATEGORY, field="category_code", label="诉求类别", max_len=8
    )
    note = clean_text(note, field="note", label="说明", max_len=TEXT_MAX, required=False)
    with transaction.atomic():
        topic = _locked(topic)
        target = check(topic, "escalate")
        zone = topic.zone
        number = raise_incident(
            Topic,
            key=f"{KEY_KIND}:{topic.pk}",
            category_code=code,
            title=f"小区议题提级：{topic.title}"[:TITLE_MAX],
            description="\n".join(p for p in (topic.description, note) if p) or topic.title,
            area=zone,
            dwelling=None,
            lat=zone.centroid_lat,
            lng=zone.centroid_lng,
            priority="normal",
            channel="consultation",
        )
        if not number:
            raise ValidationFailed(
                "诉求受理未能立案", "the request loop opened no case", field="case"
            )
        _move(topic, actor, target, f"提级帮办，诉求编号 {number}", case_number=number)
    return number


def on_incident_closed(
    sender: Any, *, key: str, number: str = "", outcome: str = "", **_: Any
) -> None:
    """The street finished the case of an escalated topic: the topic is done (已办结)."""
    kind, _sep, rest = key.partition(":")
    if kind != KEY_KIND or not rest.isdigit():
        return
    topic = Topic.objects.select_for_update().filter(pk=int(rest)).first()
    if topic is None or topic.status != S.ESCALATED:
        return
    _move(topic, None, S.CLOSED, f"诉求 {number} 已办结（{outcome}）")


def connect() -> None:
    """Topic keys are incident keys; an escalated topic hears when its case is finished."""
    register_kind(KEY_KIND)
    incident_closed.connect(on_incident_closed, dispatch_uid="community-topic-case-closed")
