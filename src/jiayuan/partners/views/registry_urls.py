"""Addresses of the partners app's registry pages (included by partners.urls)."""

from django.urls import URLPattern, URLResolver, path

from . import registry

urlpatterns: list[URLPattern | URLResolver] = [
    path("partners/", registry.partner_index, name="partners"),
    path("partners/new/", registry.partner_new, name="partner_new"),
    path("partners/dismissals/", registry.dismissal_index, name="dismissals"),
    path("partners/dismissals/<int:pk>/", registry.dismissal_detail, name="dismissal"),
    path("partners/<int:pk>/", registry.partner_detail, name="partner"),
    path("partners/<int:pk>/edit/", registry.partner_edit, name="partner_edit"),
    path(
        "partners/<int:pk>/qualifications/",
        registry.qualification_new,
        name="partner_qualification_new",
    ),
    path("partners/<int:pk>/contacts/", registry.contact_new, name="partner_contact_new"),
    path(
        "partners/<int:pk>/contacts/<int:contact_pk>/reveal/",
        registry.contact_reveal,
        name="partner_contact_reveal",
    ),
    path("partners/<int:pk>/documents/", registry.document_new, name="partner_document_new"),
    path(
        "partners/<int:pk>/documents/<int:document_pk>/",
        registry.document_open,
        name="partner_document_open",
    ),
]
