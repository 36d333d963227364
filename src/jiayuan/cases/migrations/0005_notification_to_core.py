# The inbox moves to core (issue 9): copy every notice, giving a case's notice the link
# of the case page and the case number as its reference, then drop the cases table.

from django.db import migrations

BATCH = 2000


def copy_to_core(apps, schema_editor):
    Old = apps.get_model("cases", "Notification")
    New = apps.get_model("core", "Notification")
    rows = []
    for note in Old.objects.select_related("case").order_by("pk").iterator(chunk_size=BATCH):
        link, ref = note.link, ""
        if note.case_id is not None:
            ref = note.case.number
            link = link or f"/cases/{note.case_id}/"
        rows.append(
            New(
                user_id=note.user_id,
                kind=note.kind,
                title=note.title,
                body=note.body,
                link=link,
                ref=ref,
                created_at=note.created_at,
                read_at=note.read_at,
            )
        )
        if len(rows) >= BATCH:
            New.objects.bulk_create(rows)
            rows = []
    New.objects.bulk_create(rows)


def copy_back(apps, schema_editor):
    Old = apps.get_model("cases", "Notification")
    New = apps.get_model("core", "Notification")
    Case = apps.get_model("cases", "Case")
    ids = dict(Case.objects.values_list("number", "pk"))
    Old.objects.bulk_create(
        Old(
            user_id=n.user_id,
            case_id=ids.get(n.ref) if n.ref else None,
            kind=n.kind,
            title=n.title,
            body=n.body,
            link="" if n.ref in ids else n.link,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in New.objects.order_by("pk").iterator(chunk_size=BATCH)
    )


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0004_notification_link"),
        ("core", "0002_notification"),
    ]

    operations = [
        migrations.RunPython(copy_to_core, copy_back),
        migrations.DeleteModel(name="Notification"),
    ]
