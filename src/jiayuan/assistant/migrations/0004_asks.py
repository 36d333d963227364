"""Reserved for the asks part of the assistant (filled by its change, if needed)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("assistant", "0003_wecom")]
    operations: list = []
