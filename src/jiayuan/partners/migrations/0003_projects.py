"""The projects part's own schema and data changes (empty until it needs one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("partners", "0002_registry")]

    operations: list[migrations.operations.base.Operation] = []
