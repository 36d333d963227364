from django.urls import path

from . import kb

urlpatterns: list = [
    path("assistant/kb/", kb.kb_list, name="kb"),
    path("assistant/kb/new/", kb.kb_edit, name="kb_new"),
    path("assistant/kb/<str:key>/", kb.kb_detail, name="kb_detail"),
    path("assistant/kb/<str:key>/edit/", kb.kb_edit, name="kb_edit"),
]
