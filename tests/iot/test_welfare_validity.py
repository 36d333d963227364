"""Defect 5: the welfare check reads a tag's ``valid_until`` as the first day it no
longer holds, like every other reader of tags (core.validity)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.iot import jobs
from jiayuan.org.models import Dwelling
from jiayuan.people.models import PersonTag, Residence, Tag

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def alone(own_grid: Any) -> tuple[PersonTag, Dwelling]:
    """A resident of the grid worker's grid, the only 独居老人 in the county, with an
    activity device at home."""
    residence = (
        Residence.objects.filter(until__isnull=True, dwelling__area_path__startswith=own_grid.path)
        .select_related("person", "dwelling")
        .first()
    )
    assert residence is not None
    tag, _ = Tag.objects.get_or_create(
        code=jobs.LIVING_ALONE_TAG, defaults={"name": "独居老人", "category": "特殊人群"}
    )
    PersonTag.objects.filter(tag=tag).delete()
    row = PersonTag.objects.create(
        person=residence.person, tag=tag, valid_from=TODAY - dt.timedelta(days=400)
    )
    return row, residence.dwelling


@pytest.mark.parametrize(
    ("until", "counted"),
    [
        (None, True),
        (TODAY + dt.timedelta(days=1), True),  # ends tomorrow: still held today
        (TODAY, False),  # ended today: no longer held (the defect counted it)
        (TODAY - dt.timedelta(days=1), False),
    ],
)
def test_living_alone_tag_ending_today_is_not_held(
    alone: tuple[PersonTag, Dwelling], make_device: Any, until: dt.date | None, counted: bool
) -> None:
    # given a 独居老人 tag ending on ``until`` and a door sensor at the person's home
    row, dwelling = alone
    PersonTag.objects.filter(pk=row.pk).update(valid_until=until)
    door = make_device("door_sensor", dwelling=dwelling)
    # when the welfare check looks for homes to watch today
    found = jobs.living_alone_devices(TODAY)
    # then the home is watched only while the tag holds
    assert (door in found.get(dwelling.pk, [])) is counted
