"""Fixtures of the request loop on the seeded tiny county."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.cases import services
from jiayuan.cases.models import Case, Category
from jiayuan.org.models import Area

User = get_user_model()


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    return {u.username: u for u in User.objects.all()}


@pytest.fixture
def own_grid(users: dict[str, Any]) -> Area:
    return users["grid"].memberships.get().area


@pytest.fixture
def other_grid(own_grid: Area) -> Area:
    return Area.objects.filter(kind="grid").exclude(pk=own_grid.pk).order_by("path").first()


@pytest.fixture
def make_case(own_grid: Area) -> Any:
    def make(category: str = "0201", grid: Area | None = None, **kw: Any) -> Case:
        grid = grid or own_grid
        kw.setdefault("lat", grid.centroid_lat)
        kw.setdefault("lng", grid.centroid_lng)
        return services.intake(
            actor=None,
            channel=kw.pop("channel", "snapshot"),
            category=Category.objects.get(code=category),
            description=kw.pop("description", "楼下垃圾三天没人清运"),
            reporter_name=kw.pop("reporter_name", "王女士"),
            reporter_phone=kw.pop("reporter_phone", "13812345678"),
            **kw,
        )

    return make
