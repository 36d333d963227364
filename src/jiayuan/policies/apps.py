from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoliciesConfig(AppConfig):
    name = "jiayuan.policies"
    label = "policies"
    verbose_name = _("政策找人")

    def ready(self) -> None:
        # panels: the 政策匹配 card of the person page; signals: closes matches when a
        # person's record changes. Both register on import.
        from . import hub_target, panels, reporting, signals  # noqa: F401
