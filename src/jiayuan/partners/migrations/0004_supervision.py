"""The supervision part's own schema and data changes (empty until it needs one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("partners", "0003_projects")]

    operations: list[migrations.operations.base.Operation] = []
