"""The resident's phone pages of deliberation (/m/topics/): the compound's topics, a
topic with its proposals, the vote for the resident's household or dwelling, the result,
the published minutes and the follow-up tasks' progress.

A topic is shown to the compound's residents and to staff in scope; anywhere else 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError
from jiayuan.core.views import page

from ..choices import TopicStatus, VoteChoice
from ..deliberation import present, queries
from ..deliberation import topics as actions
from ..models import CensusEntry, Vote
from ..residents import person_of

SHOWN = 50


@page
def phone_topics(request: HttpRequest) -> HttpResponse:
    """议事: the compound's topics, newest first; those awaiting the resident's vote first."""
    user = request.user
    person = person_of(user)
    topics = list(
        queries.topics_for(user)
        .select_related("zone", "matter_type")
        .order_by("-created_at", "-pk")[:SHOWN]
    )
    voting = [t.pk for t in topics if t.status == TopicStatus.VOTING]
    mine = set()
    voted = set()
    if person is not None and voting:
        mine = set(
            CensusEntry.objects.filter(topic_id__in=voting, voter=person).values_list(
                "topic_id", flat=True
            )
        )
        voted = set(
            Vote.objects.filter(topic_id__in=voting, entry__voter=person).values_list(
                "topic_id", flat=True
            )
        )
    for topic in topics:
        topic.status_css = present.STATUS_CSS.get(TopicStatus(topic.status), "")  # type: ignore[attr-defined]
        topic.awaits_me = topic.pk in mine and topic.pk not in voted  # type: ignore[attr-defined]
    topics.sort(key=lambda t: not t.awaits_me)  # type: ignore[attr-defined]
    return render(request, "community/phone/topics.html", {"topics": topics, "person": person})


@page
def phone_topic(request: HttpRequest, pk: int) -> HttpResponse:
    """A topic on the phone: the vote form while the resident may vote, then the result."""
    topic = queries.get_topic(request.user, pk)
    shown = present.detail(request.user, topic)
    return render(request, "community/phone/topic.html", {**shown, "choices": VoteChoice.choices})


@page
@require_POST
def phone_topic_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """The resident's vote for their household or dwelling (once, never replaced)."""
    topic = queries.get_topic(request.user, pk)
    try:
        vote = actions.cast_vote(request.user, topic, choice=request.POST.get("choice"))
    except BilingualError as exc:
        messages.error(request, exc.zh)
    else:
        messages.success(request, f"投票成功：{vote.get_choice_display()}")
    return redirect("community:phone_topic", topic.pk)
