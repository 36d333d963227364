"""Pages of red partners and their projects: staff pages under /partners/, the
resident's feedback pages under /m/."""

from django.urls import include, path

app_name = "partners"

urlpatterns = [
    path("", include("jiayuan.partners.views.registry_urls")),
    path("", include("jiayuan.partners.views.projects_urls")),
    path("", include("jiayuan.partners.views.supervision_urls")),
]
