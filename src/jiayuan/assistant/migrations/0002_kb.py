"""Reserved for the kb part of the assistant (filled by its change, if needed)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("assistant", "0001_initial")]
    operations: list = []
