# The markets part's own schema changes after 0001 (the parts share one app; each keeps
# its changes in its own migration so they can grow side by side), and the service
# catalogue of the public-welfare markets (8 modules, 24 items) from
# jiayuan/community/data/market_catalogue.yaml.

from django.db import migrations


def install(apps, schema_editor):
    from jiayuan.community.markets import install_catalogue

    install_catalogue(apps.get_model("community", "ServiceModule"),
                      apps.get_model("community", "ServiceItem"))


class Migration(migrations.Migration):
    dependencies = [("community", "0005_places")]

    operations: list = [migrations.RunPython(install, migrations.RunPython.noop)]
