"""``jiayuan demo-accounts``: the demo accounts and their password."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from jiayuan.demo.records import DEMO_USERNAMES
from jiayuan.org.models import Membership


class Command(BaseCommand):
    help = "列出演示账号 / print the demo accounts (username, role, area, password)"

    def handle(self, *args: Any, **opts: Any) -> None:
        rows = (
            Membership.objects.filter(user__username__in=DEMO_USERNAMES, active=True)
            .select_related("user", "area")
            .order_by("area_path")
        )
        by_user = {m.user.username: m for m in rows}
        if not by_user:
            self.stdout.write("尚无演示账号，请先运行 jiayuan seed-demo / no demo accounts yet")
            return
        table = [("账号 username", "角色 role", "区域 area", "密码 password")]
        for username in DEMO_USERNAMES:
            m = by_user.get(username)
            if m is None:
                continue
            area = " / ".join(a.name for a in m.area.ancestors()[1:]) or ""
            area = f"{area} / {m.area.name}" if area else m.area.name
            table.append((username, str(m.get_role_display()), area, settings.DEMO_PASSWORD))
        widths = [max(_width(r[i]) for r in table) for i in range(4)]
        for n, row in enumerate(table):
            self.stdout.write("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)))
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
