"""Dead letters kept once with a redelivery count; device types carry ``updated_at`` (what
running ingest processes watch); the area-offline rule kind, the simulator source."""

from typing import Any

import django.utils.timezone
from django.db import migrations, models


def fingerprint_existing(apps: Any, schema_editor: Any) -> None:
    """Give old dead letters their fingerprint and fold repeats into the first row."""
    from jiayuan.iot.models import DeadLetter as Current

    model = apps.get_model("iot", "DeadLetter")
    first: dict[str, Any] = {}
    repeats: list[int] = []
    for row in model.objects.order_by("received_at", "id").iterator(chunk_size=2000):
        key = Current.fingerprint_of(row.serial, row.topic, row.payload)
        kept = first.get(key)
        if kept is None:
            row.fingerprint = key
            row.last_received_at = row.received_at
            first[key] = row
            continue
        kept.count += 1
        kept.last_received_at = max(kept.last_received_at, row.received_at)
        repeats.append(row.pk)
    model.objects.filter(pk__in=repeats).delete()
    model.objects.bulk_update(
        list(first.values()), ["fingerprint", "count", "last_received_at"], batch_size=1000
    )


def seed_rules(apps: Any, schema_editor: Any) -> None:
    from jiayuan.iot.defaults import ensure_default_rules

    ensure_default_rules(apps)


class Migration(migrations.Migration):
    dependencies = [("iot", "0002_default_types_and_rules")]

    operations = [
        migrations.AddField(
            model_name="deadletter",
            name="count",
            field=models.PositiveIntegerField(default=1, verbose_name="收到次数"),
        ),
        migrations.AddField(
            model_name="deadletter",
            name="fingerprint",
            field=models.CharField(editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="deadletter",
            name="last_received_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="最近接收"),
        ),
        migrations.RunPython(fingerprint_existing, migrations.RunPython.noop),
        migrations.AddField(
            model_name="devicetype",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AlterField(
            model_name="alarmrule",
            name="kind",
            field=models.CharField(
                choices=[
                    ("event", "事件告警"),
                    ("threshold", "阈值持续"),
                    ("repeat", "窗口内重复"),
                    ("offline", "离线"),
                    ("area_offline", "区域集中离线"),
                    ("welfare", "独居老人关怀"),
                ],
                max_length=12,
                verbose_name="规则类型",
            ),
        ),
        migrations.AlterField(
            model_name="deadletter",
            name="source",
            field=models.CharField(
                choices=[("mqtt", "MQTT"), ("http", "HTTP"), ("sim", "模拟器")],
                max_length=8,
                verbose_name="来源",
            ),
        ),
        migrations.RunPython(seed_rules, migrations.RunPython.noop),
    ]
