"""JSON API of compound deliberation (小区事大家议): topics with their proposals, meetings,
census, votes, resolution and follow-up tasks.

Who may do what:

* a compound's topics are read by its residents and by staff whose scope covers it
  (:mod:`jiayuan.community.deliberation.queries`); anywhere else a topic answers 404;
* staff holding :attr:`~jiayuan.core.roles.Perm.SERVE` over the compound (the branch
  secretary, the 三长, grid workers, community staff and above) raise topics, hold the
  meetings, open and close the vote, enter paper votes, follow up and publish minutes; a
  resident who sees the topic but does not serve gets 403;
* a resident votes once for their household or dwelling (the census entry whose voter
  they are); a second vote is refused with 409 and replaces nothing.

Every write is one action of :mod:`jiayuan.community.deliberation`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictInt

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.schemas import Page, PageParams
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from ..choices import TopicStatus
from ..deliberation import meetings as meeting_actions
from ..deliberation import present, queries
from ..deliberation import topics as actions
from ..models import FollowUpTask, MatterType, RosterMember, ServicePosition, Topic, Vote

router = Router(tags=["社区服务"])
MAX_ID = 2**63 - 1
ID = Field(..., ge=1, le=MAX_ID)


# --- schemas -------------------------------------------------------------------------------
class MatterTypeOut(Schema):
    code: str
    name: str
    legal_basis: str
    census_basis: str
    by_area: bool
    participation_share: str
    participation_strict: bool
    pass_share: str
    pass_strict: bool


class ZoneOut(Schema):
    id: int
    name: str
    path: str


class TopicOut(Schema):
    id: int
    title: str
    status: str
    status_label: str
    zone: ZoneOut
    matter_type: str
    matter_type_name: str
    case_number: str
    voting_opens_at: dt.datetime | None
    voting_closes_at: dt.datetime | None
    created_at: dt.datetime


class ProposalOut(Schema):
    id: int
    title: str
    body: str
    author_name: str
    created_at: dt.datetime


class MemberOut(Schema):
    id: int
    group: str
    group_label: str
    name: str
    signed_in_at: dt.datetime | None

    @staticmethod
    def resolve_group_label(obj: RosterMember) -> str:
        return str(obj.get_group_display())


class AttendanceOut(Schema):
    roster: int
    signed_in: int
    quorum: int
    quorum_met: bool


class MeetingOut(Schema):
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    agenda: str
    status: str
    quorum: int
    spot: str | None
    roster: list[MemberOut]
    attendance: AttendanceOut
    minutes: str | None
    minutes_published_at: dt.datetime | None


class TaskOut(Schema):
    id: int
    title: str
    owner: str
    due_on: dt.date | None
    status: str
    progress: int
    note: str
    done_at: dt.datetime | None


class ResolutionOut(Schema):
    passed: bool
    text: str
    tally: dict[str, Any]
    decided_at: dt.datetime


class VoteOut(Schema):
    id: int
    entry_id: int
    proposal_id: int | None
    label: str
    choice: str
    paper: bool
    cast_at: dt.datetime


class TurnoutOut(Schema):
    census: int
    voted: int


class TopicDetail(TopicOut):
    description: str
    legal_basis: str
    proposals: list[ProposalOut]
    motion_id: int | None
    meetings: list[MeetingOut]
    turnout: TurnoutOut
    live_tally: dict[str, Any] | None
    resolution: ResolutionOut | None
    tasks: list[TaskOut]
    my_entry: str | None
    my_vote: VoteOut | None
    may_vote: bool
    may_serve: bool


class CensusOut(Schema):
    id: int
    label: str
    floor_area: str
    voter: str | None
    voted: bool
    choice: str | None
    paper: bool


class TopicIn(Schema):
    zone_id: int = ID
    title: str
    description: str = ""
    matter_type: str


class ProposalIn(Schema):
    title: str
    body: str = ""
    author_name: str = ""


class MeetingIn(Schema):
    starts_at: dt.datetime
    agenda: str = ""
    quorum: StrictInt | None = None
    spot_id: int | None = Field(None, ge=1, le=MAX_ID)


class MemberIn(Schema):
    group: str
    name: str


class SignInIn(Schema):
    member_id: int = ID


class OpenVotingIn(Schema):
    closes_at: dt.datetime | None = None


class VoteIn(Schema):
    choice: str
    entry_id: int | None = Field(None, ge=1, le=MAX_ID)


class PaperVoteIn(Schema):
    entry_id: int = ID
    choice: str


class TaskIn(Schema):
    title: str
    owner: str = ""
    due_on: dt.date | None = None


class TaskPatch(Schema):
    progress: StrictInt | None = None
    status: str | None = None
    note: str | None = None


class MinutesIn(Schema):
    minutes: str
    publish: bool = True


class EscalateIn(Schema):
    category_code: str | None = None
    note: str = ""


class EscalatedOut(Schema):
    case_number: str


class TopicFilters(Schema):
    status: str | None = None
    zone_id: int | None = Field(None, ge=1, le=MAX_ID)


# --- helpers ---------------------------------------------------------------------------------
def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A client's local time without an offset is Beijing time."""
    if value is None or timezone.is_aware(value):
        return value
    try:
        return timezone.make_aware(value)
    except (OverflowError, ValueError) as exc:
        raise ValidationFailed("时间无效", "invalid time", field="time") from exc


def topic_of(request: HttpRequest, topic_id: int) -> Topic:
    if not 1 <= topic_id <= MAX_ID:
        raise NotFound()
    return queries.get_topic(acting_user(request), topic_id)


def topic_row(topic: Topic) -> dict[str, Any]:
    """A topic as :class:`TopicOut` shows it."""
    return {
        **{f: getattr(topic, f) for f in ("id", "title", "status", "case_number")},
        "status_label": topic.get_status_display(),
        "zone": topic.zone,
        "matter_type": topic.matter_type.code,
        "matter_type_name": topic.matter_type.name,
        "voting_opens_at": topic.voting_opens_at,
        "voting_closes_at": topic.voting_closes_at,
        "created_at": topic.created_at,
    }


def detail_out(user: Any, topic: Topic) -> dict[str, Any]:
    shown = present.detail(user, topic)
    meetings = []
    for m in shown["meetings"]:
        meetings.append(
            {
                "id": m.pk,
                "starts_at": m.starts_at,
                "ends_at": m.ends_at,
                "agenda": m.agenda,
                "status": m.status,
                "quorum": m.quorum,
                "spot": m.spot.name if m.spot is not None else None,
                "roster": m.members,
                "attendance": m.attendance,
                "minutes": m.minutes if m.minutes_visible else None,
                "minutes_published_at": m.minutes_published_at,
            }
        )
    vote: Vote | None = shown["my_vote"]
    entry = shown["my_entry"]
    return {
        **topic_row(topic),
        "legal_basis": topic.matter_type.legal_basis,
        "description": topic.description,
        "proposals": shown["proposals"],
        "motion_id": shown["motion"].pk if shown["motion"] is not None else None,
        "meetings": meetings,
        "turnout": shown["turnout"],
        "live_tally": shown["live"],
        "resolution": shown["resolution"],
        "tasks": shown["tasks"],
        "my_entry": entry.label if entry is not None else None,
        "my_vote": vote_out(vote, entry.label) if vote is not None and entry is not None else None,
        "may_vote": shown["may_vote"],
        "may_serve": shown["staff"],
    }


def vote_out(vote: Vote, label: str) -> dict[str, Any]:
    return {
        "id": vote.pk,
        "entry_id": vote.entry_id,
        "proposal_id": vote.proposal_id,
        "label": label,
        "choice": vote.choice,
        "paper": vote.paper,
        "cast_at": vote.cast_at,
    }


# --- reading ---------------------------------------------------------------------------------
@router.get("/matter-types", response=responses(list[MatterTypeOut]))
def list_matter_types(request: HttpRequest) -> Any:
    """The matter types with their thresholds (Civil Code art. 278 and household matters)."""
    return MatterType.objects.order_by("code")


@router.get("/topics", response=responses(Page[TopicOut]))
def list_topics(
    request: HttpRequest, filters: Query[TopicFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Topics of the compounds the user sees (their scope, or the compound they live in),
    newest first; ``status`` and ``zone_id`` filter."""
    qs = queries.topics_for(acting_user(request)).select_related("zone", "matter_type")
    if filters.status:
        if filters.status not in TopicStatus.values:
            raise ValidationFailed("议题状态无效", "invalid topic status", field="status")
        qs = qs.filter(status=filters.status)
    if filters.zone_id:
        qs = qs.filter(zone_id=filters.zone_id)
    result = paginate(qs.order_by("-created_at", "-pk"), page)
    return {"items": [topic_row(t) for t in result["items"]], "count": result["count"]}


@router.get("/topics/{topic_id}", response=responses(TopicDetail))
def get_topic(request: HttpRequest, topic_id: int) -> dict[str, Any]:
    """A topic with its proposals, meetings (roster, attendance, minutes once published),
    turnout, the resolution with its tally, the follow-up tasks and the user's own vote."""
    user = acting_user(request)
    return detail_out(user, topic_of(request, topic_id))


@router.get("/topics/{topic_id}/census", response=responses(Page[CensusOut]))
def list_census(request: HttpRequest, topic_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """The census with who voted and how (staff serving the compound)."""
    user = acting_user(request)
    topic = topic_of(request, topic_id)
    queries.require_serve(user, topic.area_path)
    result = paginate(present.census_rows(topic), page)
    rows = []
    for entry in result["items"]:
        votes = list(entry.votes.all())
        vote = votes[0] if votes else None
        rows.append(
            {
                "id": entry.pk,
                "label": entry.label,
                "floor_area": str(entry.floor_area),
                "voter": entry.voter.name if entry.voter is not None else None,
                "voted": vote is not None,
                "choice": vote.choice if vote is not None else None,
                "paper": bool(vote and vote.paper),
            }
        )
    return {"items": rows, "count": result["count"]}


# --- writing -------------------------------------------------------------------------------------
@router.post("/topics", response=responses(TopicDetail, 201))
def create_topic(request: HttpRequest, body: TopicIn) -> Status[dict[str, Any]]:
    """Raise a topic in a compound the user serves."""
    user = acting_user(request)
    zone = Area.objects.filter(pk=body.zone_id, kind=AreaKind.ZONE).first()
    if zone is None:
        raise NotFound("小区不存在", "no such compound")
    matter = MatterType.objects.filter(code=body.matter_type).first()
    if matter is None:
        raise ValidationFailed("表决事项类型不存在", "no such matter type", field="matter_type")
    topic = actions.create_topic(
        user, zone=zone, title=body.title, matter_type=matter, description=body.description
    )
    return Status(201, detail_out(user, queries.get_topic(user, topic.pk)))


@router.post("/topics/{topic_id}/proposals", response=responses(ProposalOut, 201))
def add_proposal(request: HttpRequest, topic_id: int, body: ProposalIn) -> Status[Any]:
    """Add a proposal (方案) to the topic."""
    topic = topic_of(request, topic_id)
    proposal = actions.add_proposal(
        acting_user(request), topic, title=body.title, body=body.body, author_name=body.author_name
    )
    return Status(201, proposal)


@router.post("/topics/{topic_id}/meetings", response=responses(MeetingOut, 201))
def schedule_meeting(request: HttpRequest, topic_id: int, body: MeetingIn) -> Status[Any]:
    """Schedule a meeting; its 1+3+N roster is seeded from the compound's positions."""
    user = acting_user(request)
    topic = topic_of(request, topic_id)
    spot = None
    if body.spot_id is not None:
        spot = ServicePosition.objects.filter(pk=body.spot_id).first()
        if spot is None:
            raise ValidationFailed("议事地点不存在", "no such spot", field="spot_id")
    starts_at = aware(body.starts_at)
    assert starts_at is not None  # noqa: S101 (required by the schema)
    meeting = meeting_actions.schedule(
        user, topic, starts_at=starts_at, agenda=body.agenda, quorum=body.quorum, spot=spot
    )
    return Status(201, meeting_out(user, topic, meeting.pk))


def meeting_out(user: Any, topic: Topic, meeting_id: int) -> dict[str, Any]:
    out = detail_out(user, topic)
    return next(m for m in out["meetings"] if m["id"] == meeting_id)


def meeting_of(request: HttpRequest, topic: Topic, meeting_id: int) -> Any:
    meeting = topic.meetings.filter(pk=meeting_id).first() if meeting_id <= MAX_ID else None
    if meeting is None:
        raise NotFound()
    return meeting


@router.post("/topics/{topic_id}/meetings/{meeting_id}/roster", response=responses(MemberOut, 201))
def add_member(request: HttpRequest, topic_id: int, meeting_id: int, body: MemberIn) -> Status[Any]:
    """Add someone to the roster by name (the N: deputies, social organisations …)."""
    topic = topic_of(request, topic_id)
    meeting = meeting_of(request, topic, meeting_id)
    member = meeting_actions.add_member(
        acting_user(request), meeting, group=body.group, name=body.name
    )
    return Status(201, member)


@router.post("/topics/{topic_id}/meetings/{meeting_id}/sign-in", response=responses(MeetingOut))
def sign_in(request: HttpRequest, topic_id: int, meeting_id: int, body: SignInIn) -> Any:
    """Sign a roster member in; the answer shows the attendance against the quorum."""
    user = acting_user(request)
    topic = topic_of(request, topic_id)
    meeting = meeting_of(request, topic, meeting_id)
    meeting_actions.sign_in(user, meeting, body.member_id)
    return meeting_out(user, topic, meeting.pk)


@router.post("/topics/{topic_id}/meetings/{meeting_id}/minutes", response=responses(MeetingOut))
def write_minutes(request: HttpRequest, topic_id: int, meeting_id: int, body: MinutesIn) -> Any:
    """Save the minutes; ``publish`` (default) shows them to the compound's residents."""
    user = acting_user(request)
    topic = topic_of(request, topic_id)
    meeting = meeting_of(request, topic, meeting_id)
    meeting_actions.write_minutes(user, meeting, minutes=body.minutes, publish=body.publish)
    return meeting_out(user, topic, meeting.pk)


@router.post("/topics/{topic_id}/open-voting", response=responses(TopicDetail))
def open_voting(request: HttpRequest, topic_id: int, body: OpenVotingIn) -> Any:
    """Open the vote: the census is taken now (households or owners' exclusive parts)."""
    user = acting_user(request)
    topic = actions.open_voting(user, topic_of(request, topic_id), closes_at=aware(body.closes_at))
    return detail_out(user, queries.get_topic(user, topic.pk))


@router.post("/topics/{topic_id}/votes", response=responses(VoteOut, 201))
def cast_vote(request: HttpRequest, topic_id: int, body: VoteIn) -> Status[Any]:
    """The resident's vote for their household or dwelling: once, never replaced (409);
    someone outside the census gets 403."""
    user = acting_user(request)
    vote = actions.cast_vote(
        user, topic_of(request, topic_id), choice=body.choice, entry_id=body.entry_id
    )
    return Status(201, vote_out(vote, vote.entry.label))


@router.post("/topics/{topic_id}/paper-votes", response=responses(VoteOut, 201))
def paper_vote(request: HttpRequest, topic_id: int, body: PaperVoteIn) -> Status[Any]:
    """A paper vote entered by staff for a census entry, marked ``paper`` with who
    entered it."""
    user = acting_user(request)
    vote = actions.paper_vote(
        user, topic_of(request, topic_id), entry_id=body.entry_id, choice=body.choice
    )
    return Status(201, vote_out(vote, vote.entry.label))


@router.post("/topics/{topic_id}/close", response=responses(TopicDetail))
def close_voting(request: HttpRequest, topic_id: int) -> Any:
    """Close the vote and record the resolution with its tally (by headcount and area)."""
    user = acting_user(request)
    resolution = actions.close_voting(user, topic_of(request, topic_id))
    return detail_out(user, queries.get_topic(user, resolution.topic_id))


@router.post("/topics/{topic_id}/tasks", response=responses(TaskOut, 201))
def add_task(request: HttpRequest, topic_id: int, body: TaskIn) -> Status[Any]:
    """A follow-up task of a passed topic (its progress is public to the residents)."""
    task = actions.add_task(
        acting_user(request), topic_of(request, topic_id),
        title=body.title, owner=body.owner, due_on=body.due_on,
    )  # fmt: skip
    return Status(201, task)


@router.patch("/topics/{topic_id}/tasks/{task_id}", response=responses(TaskOut))
def update_task(request: HttpRequest, topic_id: int, task_id: int, body: TaskPatch) -> Any:
    """Progress (0–100), status or a public note of a task; the topic is done (已办结)
    when every task is."""
    topic = topic_of(request, topic_id)
    task = (
        FollowUpTask.objects.filter(topic=topic, pk=task_id).select_related("topic").first()
        if task_id <= MAX_ID
        else None
    )
    if task is None:
        raise NotFound()
    return actions.update_task(
        acting_user(request), task, progress=body.progress, status=body.status, note=body.note
    )


@router.post("/topics/{topic_id}/escalate", response=responses(EscalatedOut))
def escalate(request: HttpRequest, topic_id: int, body: EscalateIn) -> dict[str, str]:
    """Raise the topic to the street as a case (提级帮办); answers the case number."""
    number = actions.escalate(
        acting_user(request), topic_of(request, topic_id),
        category_code=body.category_code, note=body.note,
    )  # fmt: skip
    return {"case_number": number}
