"""``jiayuan createuser USERNAME --role ROLE --area PATH_OR_FULLCODE``: an account with a
role at one node of the area tree (the membership scoping reads)."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Replace

from jiayuan.core import actions
from jiayuan.core.roles import Role
from jiayuan.core.scoping import forget
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person


def grant_admin_site(user: Any) -> int:
    """Let a county administrator (not a superuser) use /admin: every model permission of
    Jiayuan's own apps, granted through the audited bulk path."""
    from django.apps import apps
    from django.contrib.auth.models import Permission

    labels = [c.label for c in apps.get_app_configs() if c.name.startswith("jiayuan.")]
    through = user.user_permissions.through
    have = set(user.user_permissions.values_list("pk", flat=True))
    rows = [
        through(user_id=user.pk, permission_id=pk)
        for pk in Permission.objects.filter(content_type__app_label__in=labels)
        .exclude(pk__in=have)
        .values_list("pk", flat=True)
    ]
    actions.bulk_create(through, rows, actor=None, note="admin site permissions")
    return len(rows)


def _error(zh: str, en: str) -> CommandError:
    return CommandError(f"{zh} / {en}")


def find_area(text: str) -> Area:
    """An area by its path (``370830/001/``) or its full code (``370830001``)."""
    value = text.strip()
    if "/" in value:
        path = value if value.endswith("/") else value + "/"
        area = Area.objects.filter(path=path).first()
    elif value.isdigit():
        area = (
            Area.objects.annotate(full=Replace("path", Value("/"), Value("")))
            .filter(full=value)
            .first()
        )
    else:
        area = None
    if area is None:
        raise _error(
            f"--area 区域不存在：{text}（请填写区域路径如 370830/001/ 或完整编码如 370830001）",
            f"--area: no area {text!r} (give a path like 370830/001/ or a full code like "
            "370830001)",
        )
    return area


class Command(BaseCommand):
    help = "创建账号并授予某区域的角色 / create an account with a role at an area"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help=", ".join(Role.values))
        parser.add_argument("--area", required=True, help="区域路径或完整编码 / path or full code")
        parser.add_argument("--password", help="不填则随机生成并显示一次 / random if omitted")
        parser.add_argument("--person-id", type=int, help="关联的居民编号 / link to a person")

    def handle(self, *args: Any, **opts: Any) -> None:
        username: str = opts["username"].strip()
        if not username:
            raise _error("USERNAME 不能为空", "USERNAME must not be empty")
        role = opts["role"]
        if role not in Role.values:
            raise _error(
                f"--role 角色无效：{role}（可选：{'、'.join(Role.values)}）",
                f"--role: unknown role {role!r}; choose one of {', '.join(Role.values)}",
            )
        area = find_area(opts["area"])
        person = None
        if opts["person_id"] is not None:
            person = Person.objects.filter(pk=opts["person_id"]).first()
            if person is None:
                raise _error(
                    f"--person-id 居民不存在：{opts['person_id']}",
                    f"--person-id: no person with id {opts['person_id']}",
                )
            if person.user_id is not None and person.user.username != username:
                raise _error(
                    f"--person-id 该居民已关联账号 {person.user.username}",
                    f"--person-id: the person is already linked to {person.user.username!r}",
                )
        password = opts["password"]
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        elif len(password) < 8:
            raise _error("--password 密码至少 8 位", "--password must have at least 8 characters")

        user_model = get_user_model()
        with transaction.atomic():
            user = user_model.objects.filter(username=username).first()
            created = user is None
            if user is None:
                user = user_model(username=username, is_staff=role == Role.COUNTY_ADMIN)
                user.set_password(password)
                user.audit_secret_fields = ("password",)  # type: ignore[attr-defined]  # never log it
                actions.save_new(user, actor=None, note="createuser")
            elif not generated:
                user.set_password(password)
                user.save(update_fields=["password"])
            if Membership.objects.filter(user=user, area=area, role=role).exists():
                raise _error(
                    f"账号 {username} 已在 {area.name} 担任该角色",
                    f"{username!r} already holds role {role!r} at {area.path}",
                )
            membership = Membership(user=user, area=area, role=role)
            membership.area_path = area.path
            actions.save_new(membership, actor=None, note="createuser")
            if role == Role.COUNTY_ADMIN:
                grant_admin_site(user)
            if person is not None and person.user_id != user.pk:
                actions.update(person, actor=None, note="createuser", user=user)
            forget(user)

        verb = "已创建账号" if created else "已为现有账号添加角色"
        self.stdout.write(f"{verb} {username}：{Role(role).label} @ {area.name}（{area.path}）")
        if generated and created:
            self.stdout.write(f"初始密码 / initial password: {password}")
