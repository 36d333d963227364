"""Addresses of the device pages (智能安防), all under /iot/."""

from django.urls import path

from . import views

app_name = "iot"

urlpatterns = [
    path("iot/", views.alarm_console, name="index"),
    path("iot/alarms/", views.alarm_console, name="alarms"),
    path("iot/alarms/live/", views.alarm_live, name="alarms_live"),
    path("iot/alarms/<int:pk>/", views.alarm_detail, name="alarm"),
    path("iot/alarms/<int:pk>/act/<slug:action>/", views.alarm_act, name="alarm_act"),
    path("iot/devices/", views.device_index, name="devices"),
    path("iot/devices/<int:pk>/", views.device_detail, name="device"),
    path("iot/rules/", views.rule_index, name="rules"),
    path("iot/rules/new/", views.rule_edit, name="rule_new"),
    path("iot/rules/<int:pk>/", views.rule_edit, name="rule"),
    path("iot/dead-letters/", views.dead_letters, name="dead_letters"),
]
