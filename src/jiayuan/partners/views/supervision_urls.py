"""Addresses of the partners app's supervision pages (included by partners.urls): 监管
(inspections, findings, supervision groups), 居民评价 (feedback, return visits), 季度评估
under /partners/, and the resident's phone pages under /m/partners/."""

from django.urls import URLPattern, URLResolver, path

from . import supervision as sup
from . import supervision_evaluation as ev
from . import supervision_feedback as fb
from . import supervision_phone as phone

urlpatterns: list[URLPattern | URLResolver] = [
    path("partners/supervision/", sup.inspection_index, name="supervision"),
    path("partners/supervision/inspections/new/", sup.inspection_new, name="inspection_new"),
    path("partners/supervision/inspections/<int:pk>/", sup.inspection_detail, name="inspection"),
    path("partners/supervision/findings/", sup.finding_index, name="findings"),
    path(
        "partners/supervision/findings/<int:pk>/rectify/",
        sup.finding_rectify,
        name="finding_rectify",
    ),
    path("partners/supervision/findings/<int:pk>/photo/", sup.finding_photo, name="finding_photo"),
    path(
        "partners/supervision/findings/<int:pk>/photo/new/",
        sup.finding_photo_new,
        name="finding_photo_new",
    ),
    path("partners/supervision/groups/", sup.group_index, name="groups"),
    path("partners/supervision/groups/new/", sup.group_new, name="group_new"),
    path("partners/supervision/groups/<int:pk>/", sup.group_detail, name="group"),
    path("partners/feedback/", fb.feedback_index, name="feedback"),
    path("partners/feedback/<int:pk>/verify/", fb.feedback_verify, name="feedback_verify"),
    path("partners/feedback/visit/", fb.feedback_visit, name="feedback_visit"),
    path("partners/evaluations/", ev.evaluation_index, name="evaluations"),
    path("partners/evaluations/new/", ev.evaluation_new, name="evaluation_new"),
    path("partners/evaluations/<int:pk>/", ev.evaluation_detail, name="evaluation"),
    path("m/partners/", phone.phone_projects, name="phone_projects"),
    path("m/partners/<int:pk>/feedback/", phone.phone_feedback, name="phone_feedback"),
]
