"""The knowledge base's shipped content: the entries generated from the policy
catalogue, the entries of data/kb/*.yaml and the synonyms (jiayuan.assistant.kb.sync,
which keeps staff edits; ``jiayuan assistant sync`` runs it again after an upgrade)."""

from django.db import migrations


def install(apps, schema_editor):
    from jiayuan.assistant.kb import sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0001_initial"),
        ("policies", "0002_catalogue"),
    ]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
