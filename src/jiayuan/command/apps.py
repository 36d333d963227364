from collections.abc import Callable
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def may_mobilise_at(user: Any, obj: Any) -> bool:
    """发起调度 is offered to staff who may supervise where the alarm or case is (the
    new mobilisation page checks again)."""
    from jiayuan.core.roles import Perm
    from jiayuan.core.scoping import path_allowed

    return bool(obj.area_path) and path_allowed(user, obj.area_path, Perm.SUPERVISE)


def mobilise_from(param: str) -> Callable[[Any], str]:
    """The address of the new mobilisation page with the object's place filled in."""

    def url(obj: Any) -> str:
        from django.urls import reverse

        return f"{reverse('command:new')}?{param}={obj.pk}"

    return url


class CommandConfig(AppConfig):
    """Command (指挥调度): forces on duty and one-click mobilisation. It sits on top of
    every other app and may read them all; no app imports it."""

    name = "jiayuan.command"
    label = "command"
    verbose_name = _("指挥调度")

    def ready(self) -> None:
        # 发起调度 on the alarm's and the case's pages, through the core bridge: iot and
        # cases render what is registered and never import command.
        from jiayuan.core import links

        for kind, param in (("iot.alarm", "alarm"), ("cases.case", "case")):
            links.register(
                kind,
                key="mobilise",
                label="发起调度",
                url=mobilise_from(param),
                allowed=may_mobilise_at,
            )
