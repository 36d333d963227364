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
    can_manage = has_perm_anywhere(user, Perm.MANAGE_USERS)
    return {
        "can_manage": can_manage,
        # Administrators (superusers and county admins) are the ones who enter holidays.
        "calendar_unknown_years": unknown_years() if user.is_superuser or can_manage else [],
    }
