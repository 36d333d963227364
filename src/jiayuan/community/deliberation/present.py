"""What a topic's page and its API answer show, read in a fixed number of queries.

Staff serving the compound see everything (draft minutes, the running count, the census);
the compound's residents see the topic, the proposals, the meetings with their published
minutes, their own vote, the turnout while voting and the full tally once decided, and the
follow-up tasks' progress.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q

from ..choices import TopicStatus
from ..models import CensusEntry, FollowUpTask, Meeting, RosterMember, Topic, Vote
from . import queries
from .meetings import GROUP_ORDER
from .topics import count

STATUS_CSS = {
    TopicStatus.PROPOSED: "bg-azure-lt",
    TopicStatus.DISCUSSING: "bg-cyan-lt",
    TopicStatus.SCHEDULED: "bg-indigo-lt",
    TopicStatus.VOTING: "bg-orange-lt",
    TopicStatus.PASSED: "bg-green-lt",
    TopicStatus.REJECTED: "bg-red-lt",
    TopicStatus.ESCALATED: "bg-purple-lt",
    TopicStatus.CLOSED: "bg-secondary-lt",
}


def turnout(topic: Topic) -> dict[str, int]:
    """How many census entries there are and how many have voted (one query)."""
    row = CensusEntry.objects.filter(topic=topic).aggregate(
        census=Count("pk"), voted=Count("votes", filter=Q(votes__topic=topic))
    )
    return {"census": row["census"] or 0, "voted": row["voted"] or 0}


def meetings_of(topic: Topic) -> list[Meeting]:
    roster = RosterMember.objects.select_related("person").order_by("id")
    meetings = list(
        Meeting.objects.filter(topic=topic)
        .select_related("spot")
        .prefetch_related(Prefetch("roster", queryset=roster))
        .order_by("starts_at", "pk")
    )
    for meeting in meetings:
        members = sorted(meeting.roster.all(), key=lambda m: (GROUP_ORDER.get(m.group, 99), m.pk))
        meeting.members = members  # type: ignore[attr-defined]
        signed = sum(1 for m in members if m.signed_in_at is not None)
        meeting.attendance = {  # type: ignore[attr-defined]
            "roster": len(members),
            "signed_in": signed,
            "quorum": meeting.quorum,
            "quorum_met": signed >= meeting.quorum,
        }
    return meetings


def detail(user: Any, topic: Topic) -> dict[str, Any]:
    """Everything a topic's page or API detail shows to ``user``."""
    staff = queries.is_staff_for(user, topic.area_path)
    meetings = meetings_of(topic)
    for meeting in meetings:
        meeting.minutes_visible = queries.minutes_visible(user, meeting)  # type: ignore[attr-defined]
    entry = queries.my_entry(user, topic)
    my_vote = Vote.objects.filter(topic=topic, entry=entry).first() if entry is not None else None
    resolution = getattr(topic, "resolution", None) if _decided(topic) else None
    live = count(topic) if staff and topic.status == TopicStatus.VOTING else None
    proposals = list(topic.proposals.order_by("created_at", "pk"))
    return {
        "topic": topic,
        "staff": staff,
        "status_css": STATUS_CSS.get(TopicStatus(topic.status), ""),
        "proposals": proposals,
        "motion": proposals[-1] if proposals else None,
        "meetings": meetings,
        "turnout": turnout(topic),
        "live": live.as_json() if live is not None else None,
        "resolution": resolution,
        "tasks": list(FollowUpTask.objects.filter(topic=topic).order_by("due_on", "pk")),
        "my_entry": entry,
        "my_vote": my_vote,
        "may_vote": (entry is not None and my_vote is None and topic.status == TopicStatus.VOTING),
    }


def _decided(topic: Topic) -> bool:
    """Whether a resolution may exist (saves the query on topics never voted)."""
    return topic.voting_opens_at is not None


def census_rows(topic: Topic) -> Any:
    """The census with each entry's vote (staff only): for the paper-vote form."""
    return (
        CensusEntry.objects.filter(topic=topic)
        .select_related("voter")
        .prefetch_related(Prefetch("votes", queryset=Vote.objects.select_related("entered_by")))
        .order_by("label", "pk")
    )
