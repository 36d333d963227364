from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .calendar import unknown_years
from .roles import Perm
from .scoping import has_perm_anywhere


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "can_manage": has_perm_anywhere(user, Perm.MANAGE_USERS),
        "calendar_unknown_years": unknown_years() if user.is_superuser else [],
    }
