from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="core/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The inbox kept the addresses it had when it belonged to the cases app.
    path("cases/inbox/", views.inbox, name="inbox"),
    path("cases/inbox/read/", views.inbox_read_all, name="inbox_read_all"),
    path("cases/inbox/<int:pk>/", views.inbox_open, name="inbox_open"),
]
