"""SQLite: area-path indexes scoped ``LIKE 'prefix%'`` lookups can use (see
jiayuan.core.indexes). PostgreSQL already has its ``_like`` pattern indexes."""

from django.db import migrations

from jiayuan.core.indexes import path_prefix_index


class Migration(migrations.Migration):
    dependencies = [("iot", "0004_message_device_lean")]

    operations = [path_prefix_index("iot_device"), path_prefix_index("iot_alarm")]
