"""Queries over the area tree that every app's lists share."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from .models import Area

M = TypeVar("M", bound=models.Model)


def filter_under(queryset: models.QuerySet[M], area_id: int, field: str = "area_path") -> Any:
    """Rows of ``queryset`` that lie in the area ``area_id`` or below it.

    The area itself need not be visible: the result is still cut to the user's scope by
    the queryset, so a grid worker may ask for "my community" and get their grid's rows.
    """
    path = Area.objects.filter(pk=area_id).values_list("path", flat=True).first()
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{field}__startswith": path})
