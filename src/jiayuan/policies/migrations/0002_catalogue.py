from django.db import migrations


def install(apps, schema_editor):
    from jiayuan.policies.catalogue import install as install_catalogue

    install_catalogue(apps)


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
