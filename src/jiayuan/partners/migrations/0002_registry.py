"""The registry part's own schema and data changes (empty until it needs one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]

    operations: list[migrations.operations.base.Operation] = []
