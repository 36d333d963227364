"""SQLite: area-path indexes scoped ``LIKE 'prefix%'`` lookups can use (see
jiayuan.core.indexes). PostgreSQL already has its ``_like`` pattern indexes."""

from django.db import migrations

from jiayuan.core.indexes import path_prefix_index


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]

    operations = [path_prefix_index(table) for table in ("org_area", "org_dwelling")]
