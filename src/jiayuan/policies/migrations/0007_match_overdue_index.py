"""SQLite: the overdue door tasks of a scope — the count every staff page's navigation
shows (``policies_nav``: status in the open task statuses, ``due_on`` before today,
``area_path LIKE 'scope%'``) — read from one covering index: ``status`` and ``due_on``
are ranges of it and the area path (NOCASE, so the scope's LIKE can test it, see
jiayuan.core.indexes) is read beside them. Without it SQLite walked the area-path index
over every match of the scope and looked each one up: 34 ms of CPU on each of the county
administrator's pages (24,000 matches), under 0.1 ms with it. PostgreSQL plans from its
statistics: nothing is built there."""

from typing import Any

from django.db import migrations

NAME = "policies_match_overdue"


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "policies_match" '
            '("status", "due_on", "area_path" COLLATE NOCASE)'
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    dependencies = [("policies", "0006_benefit_persons_amount")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
