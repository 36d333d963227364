from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "jiayuan.cases"
    label = "cases"
    verbose_name = _("诉求办理")

    def ready(self) -> None:
        # Device alarms open cases through the incident bridge (core.incidents).
        from . import notify  # noqa: F401  (receives notices from other apps)
        from .incidents import connect

        connect()
        from . import reporting  # noqa: F401  (registers the one table's datasets)
        from .demands import connect as connect_demands

        connect_demands()  # a compound's open cases on its demand list (core.demands)
