"""Seed the shipped device types and the default alarm rules."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    from jiayuan.iot.defaults import ensure_default_rules
    from jiayuan.iot.devicetypes import ensure_device_types

    ensure_device_types(apps)
    ensure_default_rules(apps)


class Migration(migrations.Migration):
    dependencies = [("iot", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
