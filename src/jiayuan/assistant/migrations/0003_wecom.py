"""Reserved for the wecom part of the assistant (filled by its change, if needed)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("assistant", "0002_kb")]
    operations: list = []
