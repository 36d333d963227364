from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommandConfig(AppConfig):
    """Command (指挥调度): forces on duty and one-click mobilisation. It sits on top of
    every other app and may read them all; no app imports it."""

    name = "jiayuan.command"
    label = "command"
    verbose_name = _("指挥调度")
