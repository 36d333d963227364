"""``jiayuan open311-key create NAME | revoke NAME | list``: api keys of Open311 clients.

The key is printed once on creation; only its SHA-256 is stored.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jiayuan.cases.models import Open311Key
from jiayuan.cases.open311 import issue_key, revoke_key
from jiayuan.core.errors import BilingualError


class Command(BaseCommand):
    help = "管理 Open311 接口密钥 / manage Open311 api keys: create NAME, revoke NAME, list"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "revoke", "list"])
        parser.add_argument("name", nargs="?", help="客户端名称 / client name")

    def handle(self, *args: Any, **opts: Any) -> None:
        action: str = opts["action"]
        name: str = (opts.get("name") or "").strip()
        if action == "list":
            self._list()
            return
        if not name:
            raise CommandError(f"请提供名称：open311-key {action} NAME / NAME is required")
        try:
            if action == "create":
                raw = issue_key(name)
                self.stdout.write(f"已创建 Open311 密钥 {name} / key created for {name}:")
                self.stdout.write(raw)
                self.stdout.write("请妥善保存，此密钥只显示这一次 / store it now: it is shown once")
            else:
                revoke_key(name)
                self.stdout.write(f"已停用密钥 {name} / key {name} revoked")
        except BilingualError as exc:
            raise CommandError(exc.message) from exc

    def _list(self) -> None:
        keys = Open311Key.objects.order_by("name")
        if not keys:
            self.stdout.write("尚无密钥 / no keys")
            return
        for key in keys:
            created = timezone.localtime(key.created_at).strftime("%Y-%m-%d %H:%M")
            if key.revoked_at is None:
                state = "有效 active"
            else:
                revoked = timezone.localtime(key.revoked_at).strftime("%Y-%m-%d %H:%M")
                state = f"已停用 revoked {revoked}"
            self.stdout.write(f"{key.name}\t{created}\t{state}\tsha256:{key.digest[:12]}…")
