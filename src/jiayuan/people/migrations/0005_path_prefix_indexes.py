"""SQLite: area-path indexes scoped ``LIKE 'prefix%'`` lookups can use (see
jiayuan.core.indexes). PostgreSQL already has its ``_like`` pattern indexes."""

from django.db import migrations

from jiayuan.core.indexes import path_prefix_index


class Migration(migrations.Migration):
    dependencies = [("people", "0004_person_list_index")]

    operations = [
        path_prefix_index(table)
        for table in (
            "people_person",
            "people_residence",
            "people_household",
            "people_persontag",
            "people_householdtag",
            "people_position",
            "people_force",
            "people_centralhousehold",
        )
    ]
