"""Addresses of the WeCom part: broadcasts, group robots and WeCom's callback."""

from django.urls import URLPattern, URLResolver, path

from . import wecom, wecom_callback

urlpatterns: list[URLPattern | URLResolver] = [
    path("assistant/broadcasts/", wecom.broadcast_index, name="broadcasts"),
    path("assistant/broadcasts/new/", wecom.broadcast_new, name="broadcast_new"),
    path("assistant/broadcasts/<int:pk>/", wecom.broadcast_detail, name="broadcast"),
    path("assistant/broadcasts/<int:pk>/cancel/", wecom.broadcast_cancel, name="broadcast_cancel"),
    path("assistant/robots/", wecom.robot_index, name="robots"),
    path("assistant/robots/new/", wecom.robot_new, name="robot_new"),
    path("assistant/robots/<int:pk>/toggle/", wecom.robot_toggle, name="robot_toggle"),
    path("assistant/wecom/callback/", wecom_callback.wecom_callback, name="wecom_callback"),
]
