from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "jiayuan.community"
    label = "community"
    verbose_name = _("社区服务")

    def ready(self) -> None:
        # Each part connects its signal receivers and registrations (the overview's
        # counts, the incident bridge's closing notice) in jiayuan.community.hooks.
        from . import hooks

        hooks.connect()
