"""Provenance kept as one row per record and source (the fields in JSON) instead of one
row per field: :class:`~jiayuan.datahub.models.SourceValues` replaces ``FieldValue``,
the stored values carried over. The seen rows' keys lose their database constraints and
their own indexes (read only by the unique (stream, digest) index)."""

from django.db import migrations, models
import django.db.models.deletion

CHUNK = 2000


def per_source(apps, schema_editor):
    """Every FieldValue row becomes the entry of its field in the row of its record
    and source: ``[value, rank, as_of, run_id, current, recorded_at]``."""
    FieldValue = apps.get_model("datahub", "FieldValue")
    SourceValues = apps.get_model("datahub", "SourceValues")
    rows = (
        FieldValue.objects.order_by("entity", "object_id", "source_id", "field", "pk")
        .values_list("entity", "object_id", "source_id", "field", "value", "rank", "as_of",
                     "run_id", "current", "recorded_at")
        .iterator(chunk_size=CHUNK)
    )  # fmt: skip
    batch = []
    key = None
    data = {}
    for entity, object_id, source_id, field, value, rank, as_of, run_id, current, at in rows:
        if (entity, object_id, source_id) != key:
            if key is not None:
                batch.append(SourceValues(entity=key[0], object_id=key[1], source_id=key[2],
                                          data=data))  # fmt: skip
                if len(batch) >= CHUNK:
                    SourceValues.objects.bulk_create(batch)
                    batch = []
            key, data = (entity, object_id, source_id), {}
        data[field] = [value, rank, as_of.isoformat(), run_id, current, at.isoformat()]
    if key is not None:
        batch.append(SourceValues(entity=key[0], object_id=key[1], source_id=key[2], data=data))
    if batch:
        SourceValues.objects.bulk_create(batch)


def per_field(apps, schema_editor):
    import datetime as dt

    FieldValue = apps.get_model("datahub", "FieldValue")
    SourceValues = apps.get_model("datahub", "SourceValues")
    batch = []
    for row in SourceValues.objects.order_by("pk").iterator(chunk_size=CHUNK):
        for field, (value, rank, as_of, run_id, current, at) in row.data.items():
            batch.append(FieldValue(
                entity=row.entity, object_id=row.object_id, field=field, value=value,
                source_id=row.source_id, rank=rank, as_of=dt.date.fromisoformat(as_of),
                run_id=run_id, current=current, recorded_at=dt.datetime.fromisoformat(at),
            ))  # fmt: skip
            if len(batch) >= CHUNK:
                FieldValue.objects.bulk_create(batch)
                batch = []
    if batch:
        FieldValue.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("datahub", "0003_provenance_kind_and_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="SourceValues",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("entity", models.CharField(max_length=24, verbose_name="对象类型")),
                ("object_id", models.BigIntegerField(verbose_name="对象")),
                ("data", models.JSONField(default=dict, verbose_name="字段值")),
                ("source", models.ForeignKey(db_constraint=False, db_index=False,
                                             on_delete=django.db.models.deletion.CASCADE,
                                             related_name="+", to="datahub.source")),
            ],  # fmt: skip
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("entity", "object_id", "source"),
                        name="datahub_sourcevalues_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(per_source, per_field),
        migrations.DeleteModel(name="FieldValue"),
        migrations.AlterField(
            model_name="seenrow",
            name="run",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                related_name="+", to="datahub.importrun",
            ),
        ),  # fmt: skip
        migrations.AlterField(
            model_name="seenrow",
            name="stream",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                related_name="+", to="datahub.stream",
            ),
        ),  # fmt: skip
    ]
