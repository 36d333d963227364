# The deliberation part's own schema changes after 0001 (the parts share one app; each keeps
# its changes in its own migration so they can grow side by side), and its catalogue: the
# matter types with their thresholds (Civil Code art. 278), read from data/matter_types.yaml.

from django.db import migrations


def install_matter_types(apps, schema_editor):
    from jiayuan.community.deliberation.matters import install

    install(apps.get_model("community", "MatterType"))


class Migration(migrations.Migration):
    dependencies = [("community", "0002_wishes")]

    operations: list = [
        migrations.RunPython(install_matter_types, migrations.RunPython.noop),
    ]
