from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "jiayuan.people"
    label = "people"
    verbose_name = _("人口")

    def ready(self) -> None:
        # Computed tags follow residents' changes (people.tagging).
        from .tagging import connect

        connect()
        from . import reporting  # noqa: F401  (registers the one table's datasets)
