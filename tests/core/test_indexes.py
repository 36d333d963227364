"""Scoped lookups use an index on SQLite (jiayuan.core.indexes): without the NOCASE
index, ``area_path LIKE 'prefix%'`` scans the whole table, 170 ms for the county's
residents on every scoped list, count and page."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from jiayuan.org.models import Area

# Every table of people and org that is filtered by area path and grows with the county.
TABLES = {
    "people.Person", "people.Residence", "people.Household", "people.PersonTag",
    "people.HouseholdTag", "people.Position", "people.Force", "people.CentralHousehold",
    "org.Area", "org.Dwelling",
}  # fmt: skip


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL has _like indexes")
@pytest.mark.parametrize("label", sorted(TABLES))
def test_a_scoped_lookup_searches_an_index_instead_of_scanning(db: Any, label: str) -> None:
    # given a grid's path and a scoped query over one table
    grid = Area.objects.filter(kind="grid").order_by("path").first()
    assert grid is not None
    model = apps.get_model(label)
    queryset = model._default_manager.filter(area_path__startswith=grid.path)
    sql, params = queryset.query.sql_with_params()

    # when SQLite plans it
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())

    # then it searches the area-path index
    assert f"{model._meta.db_table}_area_path_nocase" in plan, plan
    assert f"SCAN {model._meta.db_table}" not in plan, plan
