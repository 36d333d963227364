"""``core.bulk.build``, the seed's constructor: the same instance as ``Model(**values)``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from jiayuan.cases.models import Case
from jiayuan.core import bulk
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Household, Person, PersonTag, Residence, Tag
from jiayuan.policies.models import Policy, ReceivedBenefit

pytestmark = pytest.mark.django_db

# timestamps a default fills with the moment of construction
MOMENTS = {
    "created_at", "updated_at", "received_at", "stage_started_at", "at", "assigned_at",
    "recorded_at",
}  # fmt: skip


def state(obj: models.Model) -> dict[str, Any]:
    values = {k: v for k, v in obj.__dict__.items() if k != "_state" and k not in MOMENTS}
    return {
        "values": values,
        "adding": obj._state.adding,
        "db": obj._state.db,
        "cached": dict(obj._state.fields_cache),
    }


def pairs() -> list[tuple[type[models.Model], dict[str, Any]]]:
    unit = Area.objects.filter(kind="unit").first()
    dwelling = Dwelling.objects.filter(unit=unit).first()
    household = Household.objects.first()
    person = Person.objects.first()
    tag = Tag.objects.filter(scope="person").first()
    policy = Policy.objects.first()
    assert unit and dwelling and household and person and tag and policy
    return [
        (Dwelling, {"unit": unit, "number": "9-901", "floor": 9, "floor_area": 88.5}),
        (Household, {"number": "H-x", "dwelling": dwelling, "area": unit}),
        (
            Person,
            {
                "name": "张三",
                "birth_date": dt.date(1950, 1, 2),
                "gender": "M",
                "area": unit,
                "dwelling": dwelling,
                "household": household,
                "death_date": None,
            },
        ),
        (
            Residence,
            {
                "person": person,
                "dwelling": dwelling,
                "household": None,
                "since": dt.date(2000, 1, 1),
            },
        ),
        (PersonTag, {"person": person, "tag": tag, "attributes": {"grade": 2}}),
        (
            ReceivedBenefit,
            {
                "person_id": person.pk,
                "policy": policy,
                "area_path": "/x/",
                "since": dt.date(2024, 5, 1),
            },
        ),
        (Case, {"number": "WS1", "title": "t", "grid": unit, "attributes": {}}),
    ]


def test_build_gives_the_instance_the_constructor_gives() -> None:
    for model, values in pairs():
        # given the same values
        built = bulk.build(model, **dict(values))
        made = model(**dict(values))
        # then every value, the state and the related instances' caches agree
        assert state(built) == state(made), model.__name__
        for name in MOMENTS & set(made.__dict__):
            # (a default of now in both, or None where auto_now stamps it when saved)
            assert type(getattr(built, name)) is type(getattr(made, name)), name
        assert built._state.adding and built.pk is None


def test_build_caches_both_ends_of_a_one_to_one_as_the_constructor_does() -> None:
    # given an account for a person (Person.user is one-to-one)
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    account, other = user_model(username="a-1"), user_model(username="a-2")
    built = bulk.build(Person, name="李四", user=account)
    made = Person(name="李四", user=other)
    # then each person is cached on its account, as the forward descriptor caches it
    assert account._state.fields_cache == {"person": built}
    assert other._state.fields_cache == {"person": made}
    assert state(built)["cached"] == {"user": account}


def test_build_stamps_now_where_the_default_is_now() -> None:
    moment = timezone.now() - dt.timedelta(days=3)
    case = bulk.build(Case, now=moment, number="WS2", title="t")
    assert case.received_at == moment and case.stage_started_at == moment
    # a default that is not "now" is the field's own
    assert case.attributes == {} and case.attributes is not bulk.build(Case).attributes


def test_build_refuses_what_the_constructor_refuses() -> None:
    unit = Area.objects.filter(kind="unit").first()
    with pytest.raises(ValueError, match="must be a"):
        bulk.build(Household, dwelling=unit)
    with pytest.raises(TypeError, match="unexpected keyword"):
        bulk.build(Household, colour="red")
