"""SQLite: an index of the living residents by area path that holds what the overview's
census reads (``people.overview.census``): ``death_date``, then ``area_path`` in the
NOCASE collation (so a scope's ``LIKE 'prefix%'`` is a range of it, see
jiayuan.core.indexes), then ``birth_date`` and ``political_status``.

Without statistics SQLite takes any equality for the narrowest constraint, so every
count of living residents (``death_date IS NULL``) walked the ``people_person_death``
index over the whole county and looked each row up — a grid's totals read all 150,000
residents (72 ms at county scale; 1 ms through this index, which never touches the
table). PostgreSQL plans from its statistics and has its ``_like`` pattern indexes:
nothing is built there."""

from typing import Any

from django.db import migrations

NAME = "people_person_living"


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "people_person" '
            '("death_date", "area_path" COLLATE NOCASE, "birth_date", "political_status")'
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    dependencies = [("people", "0006_person_change_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
