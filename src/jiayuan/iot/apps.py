from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IotConfig(AppConfig):
    name = "jiayuan.iot"
    label = "iot"
    verbose_name = _("智能设备")

    def ready(self) -> None:
        # A finished case closes its alarm (core.incidents); saved rules reload the
        # engine's rule book (receivers in iot.alarms).
        from jiayuan.core.incidents import incident_closed

        from . import alarms  # noqa: F401
        from .lifecycle import close_for_incident

        incident_closed.connect(close_for_incident, dispatch_uid="iot-close-alarm")
        from . import reporting  # noqa: F401  (registers the one table's datasets)
