"""The change log says what changed (issue 10): a person's column, a person's or a
household's tag (with the tag's id), a benefit (with the policy's id), a household's
composition. A nightly pass then re-evaluates only the persons whose change concerns
an input of its rule (``jiayuan.policies.reads``). Rows logged before say nothing
(``changed`` empty) and concern every rule.

The triggers of 0003 are replaced; on ``people_person`` a row is logged only for a
column whose value did change (``IS DISTINCT FROM``), where 0003 logged any update that
named a watched column."""

import importlib
from typing import Any

from django.db import migrations, models

NOW = {"postgresql": "clock_timestamp()", "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')"}
N = "CAST(NULL AS BIGINT)"
# the columns of people_person rules read (jiayuan.policies.reads.PERSON_COLUMNS)
COLUMNS = (
    "birth_date", "death_date", "gender", "political_status", "hukou_code", "hukou_type",
    "residence_status", "area_path", "household_id",
)  # fmt: skip
# a household's composition changes with these (size, lives_alone, members_under)
MEMBERS = ("household_id", "birth_date", "death_date")
# (table, event, rows logged as (person, household, changed, ref))
LOGGED: list[tuple[str, str, list[tuple[str, str, str, str]]]] = [
    ("people_person", "DELETE", [(N, "OLD.household_id", "members", N)]),
    ("people_persontag", "UPDATE",
     [("NEW.person_id", N, "tag", "NEW.tag_id"), ("OLD.person_id", N, "tag", "OLD.tag_id")]),
    ("people_persontag", "DELETE", [("OLD.person_id", N, "tag", "OLD.tag_id")]),
    ("people_householdtag", "UPDATE",
     [(N, "NEW.household_id", "tag", "NEW.tag_id"), (N, "OLD.household_id", "tag", "OLD.tag_id")]),
    ("people_householdtag", "DELETE", [(N, "OLD.household_id", "tag", "OLD.tag_id")]),
    ("policies_receivedbenefit", "UPDATE",
     [("NEW.person_id", N, "benefit", "NEW.policy_id"),
      ("OLD.person_id", N, "benefit", "OLD.policy_id")]),
    ("policies_receivedbenefit", "DELETE", [("OLD.person_id", N, "benefit", "OLD.policy_id")]),
]  # fmt: skip
OLD_TRIGGERS = [
    ("people_person", "UPDATE"), ("people_person", "DELETE"), ("people_persontag", "UPDATE"),
    ("people_persontag", "DELETE"), ("people_householdtag", "UPDATE"),
    ("people_householdtag", "DELETE"), ("policies_receivedbenefit", "UPDATE"),
    ("policies_receivedbenefit", "DELETE"),
]  # fmt: skip


def _name(table: str, event: str, suffix: str = "") -> str:
    return f"policies_log_{table}_{event.lower()}{suffix}"


def _insert(row: tuple[str, str, str, str], now: str) -> str:
    person, household, changed, ref = row
    return (
        "INSERT INTO policies_personchange (person_id, household_id, changed, ref_id, at) "
        f"SELECT {person}, {household}, '{changed}', {ref}, {now} "
        f"WHERE {person} IS NOT NULL OR {household} IS NOT NULL;"
    )


def _distinct(column: str, vendor: str) -> str:
    op = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return f"OLD.{column} {op} NEW.{column}"


def _person_updates(vendor: str) -> list[tuple[str, str, list[tuple[str, str, str, str]]]]:
    """(suffix, condition, rows) of an update of people_person: one row per changed
    column for the person, and ``members`` for the households it leaves and joins."""
    out = [(f"_{c}", _distinct(c, vendor), [("NEW.id", N, c, N)]) for c in COLUMNS]
    out.append(
        (
            "_members",
            " OR ".join(_distinct(c, vendor) for c in MEMBERS),
            [(N, "NEW.household_id", "members", N), (N, "OLD.household_id", "members", N)],
        )
    )
    return out


def _drop(schema_editor: Any, names: list[tuple[str, str]]) -> None:
    vendor = schema_editor.connection.vendor
    for table, name in names:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _new_names(vendor: str) -> list[tuple[str, str]]:
    names = [(t, _name(t, e)) for t, e, _rows in LOGGED]
    if vendor == "postgresql":
        names.append(("people_person", _name("people_person", "UPDATE")))
    else:
        names += [
            ("people_person", _name("people_person", "UPDATE", s))
            for s, _c, _r in _person_updates(vendor)
        ]
    return names


def drop_old(apps: Any, schema_editor: Any) -> None:
    # first: SQLite rebuilds the log's table to add its columns, which a trigger naming
    # the table refuses
    _drop(schema_editor, [(t, _name(t, e)) for t, e in OLD_TRIGGERS])


def add_old(apps: Any, schema_editor: Any) -> None:
    importlib.import_module("jiayuan.policies.migrations.0003_incremental").add_triggers(
        apps, schema_editor
    )


def forwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in NOW:
        return
    now = NOW[vendor]
    watched = ", ".join(COLUMNS)
    if vendor == "postgresql":
        # clock_timestamp(): now() is the transaction's start, which may precede a run's
        # watermark although the change commits after it
        tables = [(t, e, " ".join(_insert(r, now) for r in rows), "") for t, e, rows in LOGGED]
        body = " ".join(
            f"IF {cond} THEN {' '.join(_insert(r, now) for r in rows)} END IF;"
            for _s, cond, rows in _person_updates(vendor)
        )
        tables.append(("people_person", "UPDATE", body, f" OF {watched}"))
        for table, event, body, of in tables:
            name = _name(table, event)
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                f"{body} RETURN NULL; END $$ LANGUAGE plpgsql"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event}{of} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        return
    # SQLite: one trigger per watched column, each when its value changed
    for table, event, rows in LOGGED:
        body = " ".join(_insert(r, now) for r in rows)
        schema_editor.execute(
            f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} "
            f"FOR EACH ROW BEGIN {body} END"
        )
    for suffix, cond, rows in _person_updates(vendor):
        body = " ".join(_insert(r, now) for r in rows)
        columns = suffix[1:] if suffix != "_members" else ", ".join(MEMBERS)
        schema_editor.execute(
            f"CREATE TRIGGER {_name('people_person', 'UPDATE', suffix)} AFTER UPDATE OF "
            f"{columns} ON people_person FOR EACH ROW WHEN {cond} BEGIN {body} END"
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in NOW:
        return
    _drop(schema_editor, _new_names(vendor))


class Migration(migrations.Migration):
    dependencies = [("policies", "0007_match_overdue_index")]

    operations = [
        migrations.RunPython(drop_old, add_old, elidable=False),
        migrations.AddField(
            model_name="personchange",
            name="changed",
            field=models.CharField(blank=True, default="", max_length=24),
        ),
        migrations.AddField(
            model_name="personchange",
            name="ref_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
