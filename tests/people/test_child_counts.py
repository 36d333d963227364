"""The children tables of area pages: per-child counts (one grouped pass per column)
equal counting each child's rows one by one."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.org.models import Area
from jiayuan.people.area_views import child_counts
from jiayuan.people.models import Household, Person

COLUMNS = ["residents", "party_members", "households", "grids", "communities"]


@pytest.mark.parametrize("kind", ["county", "street", "community"])
def test_child_counts_equal_counting_each_child(db: Any, kind: str) -> None:
    from jiayuan.people.choices import PARTY

    # given an area of each level and its children, as the county administrator
    admin = get_user_model().objects.get(username="admin")
    area = Area.objects.filter(kind=kind).order_by("path").first()
    assert area is not None
    children = list(Area.objects.filter(parent=area).order_by("code"))
    assert children

    # when the children table counts
    counts = child_counts(admin, children, COLUMNS, under=area.path)

    # then each figure is the child's own count
    for child in children:
        living = Person.objects.filter(area_path__startswith=child.path, death_date=None)
        areas = Area.objects.filter(area_path__startswith=child.path)
        assert counts[child.pk] == {
            "residents": living.count(),
            "party_members": living.filter(political_status__in=PARTY).count(),
            "households": Household.objects.filter(area_path__startswith=child.path).count(),
            "grids": areas.filter(kind="grid").count(),
            "communities": areas.filter(kind="community").count(),
        }, child
    assert sum(c["residents"] for c in counts.values()) > 0
