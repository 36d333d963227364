from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    name = "jiayuan.assistant"
    label = "assistant"
    verbose_name = _("数字助理")

    def ready(self) -> None:
        from jiayuan.core.incidents import register_kind

        from .choices import HANDOFF_KEY_KIND

        register_kind(HANDOFF_KEY_KIND)  # a hand-off's case: source_ref "ask:<id>"
