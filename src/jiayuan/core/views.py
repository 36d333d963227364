from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {})


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "404.html", {"path": request.path}, status=404)
