"""On PostgreSQL, two votes of one household at the same moment (the resident on two
phones, or the resident and a staff member entering a paper vote): exactly one is kept,
the other is refused with 409, and nothing is replaced.

The requests must overlap on committed data from two threads with their own connections,
so these tests run with ``transaction=True``, which flushes every table afterwards: the
county is seeded again when missing (as in tests/cases/test_concurrency.py), and the
matter types of migration 0003 are installed again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from jiayuan.community.deliberation import topics as actions
from jiayuan.community.models import CensusEntry, MatterType, Topic, Vote
from jiayuan.core.roles import Role
from jiayuan.org.models import Membership
from tests.concurrency import (
    ensure_world,
    post_at_once,
    postgres_only,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

pytestmark = postgres_only

User = get_user_model()
HOLD_SECONDS = 0.5


def voting_topic() -> Topic:
    branch = User.objects.get(username="branch")
    zone = Membership.objects.get(user=branch, role=Role.BRANCH_SECRETARY).area
    topic = actions.create_topic(
        branch,
        zone=zone,
        title="并发投票",
        matter_type=MatterType.objects.get(code="residents_public_affairs"),
    )
    actions.open_voting(branch, topic)
    topic.refresh_from_db()
    return topic


def hold_the_insert(monkeypatch: Any) -> None:
    """Keep the first writer's transaction open a while after its insert, so that the two
    requests surely overlap."""
    insert = actions._insert_vote

    def slow_insert(*args: Any, **kwargs: Any) -> Any:
        vote = insert(*args, **kwargs)
        time.sleep(HOLD_SECONDS)
        return vote

    monkeypatch.setattr(actions, "_insert_vote", slow_insert)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_votes_of_one_household_keep_one(monkeypatch: Any) -> None:
    # given a topic in voting, committed
    ensure_world()
    topic = voting_topic()
    resident = User.objects.get(username="resident")
    hold_the_insert(monkeypatch)
    # when the resident votes from two phones at the same moment, yes and no
    path = f"/api/v1/topics/{topic.pk}/votes"
    responses = post_at_once(
        [(resident, path, {"choice": "yes"}), (resident, path, {"choice": "no"})]
    )
    # then exactly one vote is kept and the other is refused, naming why
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()
    loser = next(r for r in responses if r.status_code == 409).json()
    assert "已经投过票" in loser["message"]
    votes = Vote.objects.filter(topic=topic)
    assert votes.count() == 1 and votes.get().choice == winner["choice"]


@pytest.mark.django_db(transaction=True)
def test_a_paper_vote_and_the_residents_own_at_once_keep_one(monkeypatch: Any) -> None:
    ensure_world()
    topic = voting_topic()
    resident = User.objects.get(username="resident")
    branch = User.objects.get(username="branch")
    entry = CensusEntry.objects.get(topic=topic, voter__user=resident)
    hold_the_insert(monkeypatch)
    responses = post_at_once(
        [
            (resident, f"/api/v1/topics/{topic.pk}/votes", {"choice": "yes"}),
            (branch, f"/api/v1/topics/{topic.pk}/paper-votes",
             {"entry_id": entry.pk, "choice": "no"}),
        ]
    )  # fmt: skip
    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    assert Vote.objects.filter(topic=topic, entry=entry).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_unique_index_alone_refuses_the_second_vote() -> None:
    # Without the topic's row lock (two writers that skip the action layer), PostgreSQL's
    # unique index still keeps one vote: the second insert waits for the first's commit
    # and then fails.
    ensure_world()
    topic = voting_topic()
    entry = CensusEntry.objects.filter(topic=topic).first()
    assert entry is not None
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def insert(choice: str) -> None:
        from django.db import IntegrityError, transaction

        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                Vote.objects.create(topic=topic, entry=entry, choice=choice)
                time.sleep(0.3)
            outcomes.append("ok")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(c,)) for c in ("yes", "no")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]
    assert Vote.objects.filter(topic=topic).count() == 1
