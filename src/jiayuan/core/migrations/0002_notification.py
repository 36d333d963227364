# The inbox moves from cases to core (issue 9); cases' 0005 copies its rows here.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Notification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=24, verbose_name="类型")),
                ("title", models.CharField(max_length=120, verbose_name="标题")),
                ("body", models.TextField(blank=True, verbose_name="内容")),
                ("link", models.CharField(blank=True, help_text="page the notice opens", max_length=200, verbose_name="链接")),
                ("ref", models.CharField(blank=True, db_index=True, max_length=40, verbose_name="编号")),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="时间")),
                ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="已读时间")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "消息",
                "verbose_name_plural": "消息",
                "ordering": ["-created_at"],
                "indexes": [models.Index(fields=["user", "read_at"], name="core_notice_user_unread")],
            },
        ),
    ]
