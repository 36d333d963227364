from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "jiayuan.partners"
    label = "partners"
    verbose_name = _("红色合伙人")
