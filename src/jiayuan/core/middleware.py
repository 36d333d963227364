from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import acting


class RequestContextMiddleware:
    """Binds a request id and the client address for the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        channel = "api" if request.path.startswith("/api/") else "web"
        address = request.META.get("REMOTE_ADDR", "")
        incoming = request.headers.get("X-Request-ID", "")[:32]
        with acting(channel, address, incoming) as ctx:
            request.request_id = ctx.request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
            response["X-Request-ID"] = ctx.request_id
            return response
