"""Pages of the command app: staff pages under /command/, the force's phone pages under
/m/duty/ and /m/mobilisations/."""

from django.urls import include, path

from . import views

app_name = "command"

urlpatterns = [
    path("command/mobilisations/", views.mobilisation_list, name="list"),
    path("command/mobilisations/new/", views.mobilisation_new, name="new"),
    path("command/mobilisations/<int:mob_id>/", views.mobilisation_detail, name="detail"),
    path("command/mobilisations/<int:mob_id>/live/", views.mobilisation_live, name="live"),
    path("command/mobilisations/<int:mob_id>/close/", views.mobilisation_close, name="close"),
    path("command/mobilisations/<int:mob_id>/step/", views.mobilisation_step, name="step"),
    path("command/forces/<int:force_id>/position/", views.force_position, name="position"),
    path("m/duty/", views.phone_duty, name="phone_duty"),
    path("m/mobilisations/<int:mob_id>/", views.phone_mobilisation, name="phone_mobilisation"),
    path("", include("jiayuan.command.screen_urls")),
    path("", include("jiayuan.command.live_urls")),
    path("", include("jiayuan.command.desk_urls")),
    path("", include("jiayuan.command.orders_urls")),
]
