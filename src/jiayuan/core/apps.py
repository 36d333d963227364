from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jiayuan.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        # calendar: drops the process's copy of the declared days when one is saved
        from . import (
            calendar,  # noqa: F401
            lookups,
        )

        lookups.register()
