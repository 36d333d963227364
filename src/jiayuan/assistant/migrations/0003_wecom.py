"""The wecom part of the assistant: a delivery's next try (pace, backoff, lease)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("assistant", "0002_kb")]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="next_at",
            field=models.DateTimeField(
                blank=True, db_index=True, null=True, verbose_name="下次发送"
            ),
        ),
    ]
