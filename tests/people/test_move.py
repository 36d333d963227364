"""Defect 3: a resident who moves to a dwelling in another grid takes their tags,
benefits and open matches along, in the same transaction: the old grid's worker no
longer sees them, the new grid's worker does."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core.roles import Role
from jiayuan.org.models import Dwelling, Membership
from jiayuan.people import services
from jiayuan.people.models import Person, PersonTag, Tag
from jiayuan.policies.choices import OPEN_STATUSES
from jiayuan.policies.models import Match, Policy, ReceivedBenefit
from tests.api.conftest import World

pytestmark = pytest.mark.django_db

TAG = "残疾人"


def holder_ids(api: Any, code: str) -> set[int]:
    body = api.get(f"/tags/{code}", limit=500).json()
    return {h["person"] for h in body["holder_list"]["items"]}


def ids(api: Any, path: str, person: Person) -> set[int]:
    response = api.get(path, person=person.pk, limit=100)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


@pytest.fixture
def resident(world: World) -> tuple[Person, ReceivedBenefit, Match]:
    """A resident of the ``grid`` user's grid with a tag, a benefit and an open match."""
    match = (
        Match.objects.filter(status__in=OPEN_STATUSES, area_path__startswith=world.grid.path)
        .select_related("person")
        .order_by("pk")
        .first()
    )
    assert match is not None, "the tiny county has open matches in the demo grid"
    person = match.person
    tag, _ = Tag.objects.get_or_create(code=TAG, defaults={"name": TAG, "category": "特殊人群"})
    PersonTag.objects.filter(person=person, tag=tag).delete()
    PersonTag.objects.create(person=person, tag=tag, attributes={})
    policy = Policy.objects.exclude(pk=match.policy_id).order_by("pk").first()
    assert policy is not None
    benefit = ReceivedBenefit.objects.create(person=person, policy=policy)
    return person, benefit, match


@pytest.fixture
def new_grid_worker(world: World) -> Any:
    user = get_user_model().objects.create_user("grid-new", password="x")
    Membership.objects.create(user=user, area=world.other_grid, role=Role.GRID_WORKER)
    return user


def test_tags_benefits_and_open_matches_follow_a_moved_person(
    api_as: Any, world: World, resident: tuple[Person, ReceivedBenefit, Match], new_grid_worker: Any
) -> None:
    person, benefit, match = resident
    old, new = api_as("grid"), api_as("grid-new")
    # given the old grid's worker sees the resident's tag, benefit and match
    assert person.pk in holder_ids(old, TAG)
    assert benefit.pk in ids(old, "/benefits", person)
    assert match.pk in ids(old, "/matches", person)
    assert person.pk not in holder_ids(new, TAG)
    # when community staff move the resident to a dwelling of the other grid
    dwelling = Dwelling.objects.filter(area_path__startswith=world.other_grid.path).first()
    assert dwelling is not None
    response = api_as("community").patch(
        f"/persons/{person.pk}", {"area": world.other_grid.pk, "dwelling": dwelling.pk}
    )
    assert response.status_code == 200, response.content
    # then the old grid's worker sees none of it
    assert person.pk not in holder_ids(old, TAG)
    assert benefit.pk not in ids(old, "/benefits", person)
    assert match.pk not in ids(old, "/matches", person)
    # and the new grid's worker sees all of it
    assert person.pk in holder_ids(new, TAG)
    assert benefit.pk in ids(new, "/benefits", person)
    assert match.pk in ids(new, "/matches", person)


def test_a_failed_follower_rolls_the_move_back(
    world: World, resident: tuple[Person, ReceivedBenefit, Match]
) -> None:
    # given a receiver of person_moved that fails
    person, benefit, _match = resident
    before = person.area_path

    def fail(**_: Any) -> None:
        raise RuntimeError("policies could not follow")

    services.person_moved.connect(fail, dispatch_uid="test.fail")
    try:
        admin = get_user_model().objects.get(username="admin")
        # when the move is attempted, then nothing of it stays
        with pytest.raises(RuntimeError):
            services.update_person(person, actor=admin, area=world.other_grid, dwelling=None)
    finally:
        services.person_moved.disconnect(dispatch_uid="test.fail")
    assert Person.objects.get(pk=person.pk).area_path == before
    assert set(PersonTag.objects.filter(person=person).values_list("area_path", flat=True)) == {
        before
    }
    assert ReceivedBenefit.objects.get(pk=benefit.pk).area_path == before
