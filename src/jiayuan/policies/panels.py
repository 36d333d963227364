"""The person page's 政策匹配 card: the resident's matches (with the one-line recorded
explanation) and the benefits they receive, registered into
:mod:`jiayuan.people.panels` because ``people`` may not import ``policies``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from jiayuan.core.rules import RuleError
from jiayuan.people.panels import register_person_panel

from . import matching
from .models import Match, ReceivedBenefit

PANEL_NAME = "政策匹配"
PANEL_LIMIT = 30


def render_policy_panel(request: HttpRequest, person: Any) -> str:
    """The card, scoped to what ``request.user`` may see (a benefit or match of a
    person the user sees lives where the person lives, so it is normally visible)."""
    from .views import status_css

    user = request.user
    matches = list(
        Match.objects.visible_to(user)
        .filter(person=person)
        .select_related("policy", "rule_version")
        .order_by("-created_at", "-pk")[:PANEL_LIMIT]
    )
    for m in matches:
        m.status_css = status_css(m.status)  # type: ignore[attr-defined]
        try:
            m.explanation = matching.explain(m).explain()  # type: ignore[attr-defined]
        except RuleError:
            m.explanation = ""  # type: ignore[attr-defined]
    today = timezone.localdate()
    benefits = list(
        ReceivedBenefit.objects.visible_to(user)
        .filter(person=person)
        .select_related("policy")
        .order_by("-since", "-pk")
    )
    for b in benefits:
        b.active = (b.since is None or b.since <= today) and (  # type: ignore[attr-defined]
            b.until is None or today < b.until
        )
    context = {"person": person, "matches": matches, "benefits": benefits}
    return render_to_string("policies/panel.html", context, request=request)


# Importing this module (PoliciesConfig.ready) registers the card.
register_person_panel(PANEL_NAME, render_policy_panel, order=10)
