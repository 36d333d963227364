"""The projects part's schema changes: an open call's panel (the users who score it)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_registry"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="panel",
            field=models.ManyToManyField(
                blank=True,
                related_name="partner_panels",
                to=settings.AUTH_USER_MODEL,
                verbose_name="评审组",
            ),
        ),
    ]
