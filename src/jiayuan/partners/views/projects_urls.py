"""Addresses of the partners app's projects pages (included by partners.urls)."""

from django.urls import URLPattern, URLResolver, path

from . import projects as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("partners/projects/", v.project_index, name="projects"),
    path("partners/projects/new/", v.project_new, name="project_new"),
    path("partners/projects/<int:pk>/", v.project_detail, name="project"),
    path("partners/projects/<int:pk>/edit/", v.project_edit, name="project_edit"),
    path("partners/projects/<int:pk>/decide/", v.project_decide, name="project_decide"),
    path(
        "partners/projects/<int:pk>/documents/", v.project_document_new, name="project_document_new"
    ),
    path(
        "partners/projects/<int:pk>/documents/<int:document_pk>/",
        v.project_document_open,
        name="project_document_open",
    ),
    path("partners/projects/<int:pk>/calls/", v.project_call_new, name="project_call_new"),
    path(
        "partners/projects/<int:pk>/agreements/",
        v.project_agreement_new,
        name="project_agreement_new",
    ),
    path("partners/calls/", v.call_index, name="calls"),
    path("partners/calls/<int:pk>/", v.call_detail, name="call"),
    path("partners/calls/<int:pk>/apply/", v.call_apply, name="call_apply"),
    path("partners/calls/<int:pk>/close/", v.call_close, name="call_close"),
    path("partners/calls/<int:pk>/scores/<int:application_pk>/", v.call_score, name="call_score"),
    path("partners/calls/<int:pk>/select/", v.call_select, name="call_select"),
    path("partners/calls/<int:pk>/publish/", v.call_publish, name="call_publish"),
    path("partners/agreements/<int:pk>/", v.agreement_detail, name="agreement"),
    path("partners/agreements/<int:pk>/sign/", v.agreement_sign, name="agreement_sign"),
]
