"""Residents' feedback: the mailbox (once a day, only projects serving the resident's
community), return visits by grid workers, and the verification of a negative rating —
upheld costs the partner once, not upheld nothing; the rating never changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.partners import feedback as fb
from jiayuan.partners.choices import CreditReason, FeedbackChannel
from jiayuan.partners.models import CreditEntry, Feedback, Partner, Project

from .conftest import Compounds, Watched

pytestmark = pytest.mark.django_db


def penalties(partner: Partner) -> list[tuple[int, str]]:
    rows = CreditEntry.objects.filter(partner=partner, reason=CreditReason.NEGATIVE_FEEDBACK)
    return [(e.delta, e.evidence) for e in rows]


# --- the mailbox --------------------------------------------------------------------------
def test_a_resident_rates_a_project_of_their_community_once_a_day(
    users: dict[str, Any], watched: Watched, compounds: Compounds
) -> None:
    resident = users["resident"]
    assert list(fb.projects_for_resident(resident)) == [watched.project]

    row = fb.submit(resident, watched.project.pk, rating=4, text="  饭菜可口  ")

    assert (row.person, row.channel, row.rating, row.text) == (
        compounds.resident, FeedbackChannel.MAILBOX, 4, "饭菜可口"
    )  # fmt: skip
    with pytest.raises(Conflict) as caught:
        fb.submit(resident, watched.project.pk, rating=5)
    assert caught.value.status == 409
    # yesterday's rating does not count against today
    Feedback.objects.filter(pk=row.pk).update(submitted_at=timezone.now() - dt.timedelta(days=1))
    fb.submit(resident, watched.project.pk, rating=5)
    assert Feedback.objects.filter(project=watched.project).count() == 2


@pytest.mark.parametrize("which", ["far", "early"])
def test_a_resident_cannot_rate_outside_their_community_or_before_operation(
    users: dict[str, Any], watched: Watched, which: str
) -> None:
    project = getattr(watched, which)
    with pytest.raises(NotFound):
        fb.submit(users["resident"], project.pk, rating=5)
    assert not Feedback.objects.filter(project=project).exists()


def test_a_street_project_serves_its_communities(users: dict[str, Any], watched: Watched) -> None:
    street = watched.project.area.parent
    project = Project.objects.create(
        area=street, name="街道助浴", content="上门助浴", price_class="free", stage="evaluation",
        partner=watched.partner,
    )  # fmt: skip
    assert project in fb.projects_for_resident(users["resident"])


def test_staff_without_a_resident_record_cannot_use_the_mailbox(
    users: dict[str, Any], watched: Watched
) -> None:
    with pytest.raises(NotFound):
        fb.submit(users["admin"], watched.project.pk, rating=5)


@pytest.mark.parametrize(
    ("rating", "text"),
    [(0, ""), (6, ""), (True, ""), ("5", ""), (None, ""), (4.5, ""), (3, "长" * 501), (3, "\x07")],
)
def test_hostile_ratings_are_refused(
    users: dict[str, Any], watched: Watched, rating: Any, text: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fb.submit(users["resident"], watched.project.pk, rating=rating, text=text)
    assert caught.value.status == 422
    assert not Feedback.objects.exists()


# --- return visits ------------------------------------------------------------------------
def test_a_grid_worker_records_a_resident_rating_on_a_visit(
    users: dict[str, Any], watched: Watched, compounds: Compounds
) -> None:
    row = fb.record_visit(
        users["grid"], watched.project.pk, person_id=compounds.neighbour.pk, rating=2,
        text="排队太久", confirmed=True,
    )  # fmt: skip
    assert (row.person, row.channel, row.visited_by) == (
        compounds.neighbour, FeedbackChannel.RETURN_VISIT, users["grid"]
    )  # fmt: skip
    # the same resident's mailbox the same day is the second rating of the day
    with pytest.raises(Conflict):
        fb.record_visit(
            users["grid"], watched.project.pk, person_id=compounds.neighbour.pk, rating=5,
            confirmed=True,
        )  # fmt: skip


def test_a_visit_states_whose_words_they_are(
    users: dict[str, Any], watched: Watched, compounds: Compounds
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        fb.record_visit(
            users["grid"], watched.project.pk, person_id=compounds.neighbour.pk, rating=3
        )
    assert caught.value.field == "confirmed"


def test_a_grid_worker_visits_only_residents_of_their_grid(
    users: dict[str, Any], watched: Watched, compounds: Compounds
) -> None:
    with pytest.raises(NotFound):
        fb.record_visit(
            users["grid"], watched.project.pk, person_id=compounds.stranger.pk, rating=3,
            confirmed=True,
        )  # fmt: skip
    with pytest.raises(NotFound):  # a project not serving the resident's community
        fb.record_visit(
            users["grid"], watched.far.pk, person_id=compounds.neighbour.pk, rating=3,
            confirmed=True,
        )  # fmt: skip


# --- verification -------------------------------------------------------------------------
def test_an_upheld_negative_rating_costs_the_partner_once(
    users: dict[str, Any], watched: Watched
) -> None:
    # given a resident's 1-star rating
    row = fb.submit(users["resident"], watched.project.pk, rating=1, text="饭是凉的")
    before = Partner.objects.get(pk=watched.partner.pk).credit

    # when the canteen's supervision group (the 三长 on it) finds it true
    verified = fb.verify(users["head"], row.pk, upheld=True, note="现场核实，保温设备故障")

    # then the partner loses the setting's points, recorded with the feedback as evidence
    assert verified.upheld is True and verified.verified_group == watched.group
    assert penalties(watched.partner) == [
        (settings.PARTNERS_CREDIT_NEGATIVE_FEEDBACK, f"feedback:{row.pk}")
    ]
    after = Partner.objects.get(pk=watched.partner.pk).credit
    assert after == before + settings.PARTNERS_CREDIT_NEGATIVE_FEEDBACK
    # and a second verdict is refused, the rating unchanged and the balance as it was
    with pytest.raises(Conflict):
        fb.verify(users["community"], row.pk, upheld=True)
    assert Feedback.objects.get(pk=row.pk).rating == 1
    assert Partner.objects.get(pk=watched.partner.pk).credit == after
    assert len(penalties(watched.partner)) == 1


def test_a_negative_rating_not_upheld_changes_nothing(
    users: dict[str, Any], watched: Watched
) -> None:
    row = fb.submit(users["resident"], watched.project.pk, rating=2)
    before = Partner.objects.get(pk=watched.partner.pk).credit
    verified = fb.verify(users["community"], row.pk, upheld=False)
    assert verified.upheld is False and verified.verified_at is not None
    assert verified.rating == 2
    assert penalties(watched.partner) == []
    assert Partner.objects.get(pk=watched.partner.pk).credit == before


def test_only_negative_ratings_are_verified(users: dict[str, Any], watched: Watched) -> None:
    row = fb.submit(users["resident"], watched.project.pk, rating=3)
    with pytest.raises(Conflict):
        fb.verify(users["community"], row.pk, upheld=True)


def test_who_may_verify(
    users: dict[str, Any], watched: Watched, community_grid_worker: Any, far_staff: Any
) -> None:
    row = fb.submit(users["resident"], watched.project.pk, rating=1)
    # staff who see the project but neither supervise nor sit on its group: 403
    with pytest.raises(PermissionDenied):
        fb.verify(community_grid_worker, row.pk, upheld=True)
    # another community's staff and the resident (who sees no one's feedback): 404
    for user in (far_staff, users["resident"]):
        with pytest.raises(NotFound):
            fb.verify(user, row.pk, upheld=True)
    with pytest.raises(ValidationFailed):
        fb.verify(users["head"], row.pk, upheld="yes")
    assert penalties(watched.partner) == []


def test_group_members_who_are_not_staff_do_not_see_names(
    users: dict[str, Any], watched: Watched
) -> None:
    row = fb.submit(users["resident"], watched.project.pk, rating=5)
    assert fb.get_feedback(users["head"], row.pk) == row
    assert not fb.shows_names(users["head"], row)
    assert fb.shows_names(users["community"], row)
