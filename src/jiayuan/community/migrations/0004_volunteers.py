# The volunteers part's own schema changes after 0001 (the parts share one app; each keeps
# its changes in its own migration so they can grow side by side).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("community", "0003_deliberation")]

    operations: list = []
