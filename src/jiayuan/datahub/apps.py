from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatahubConfig(AppConfig):
    name = "jiayuan.datahub"
    label = "datahub"
    verbose_name = _("数据汇聚")

    def ready(self) -> None:
        # The import targets this app owns (persons, households, tags) and its panel on
        # the person page register here; see jiayuan.core.imports.
        from . import hooks

        hooks.connect()
