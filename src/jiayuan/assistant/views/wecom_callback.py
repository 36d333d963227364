"""The smart robot's callback address (WeCom calls it; no login, no CSRF token): a thin
view over :mod:`jiayuan.assistant.wecom.callback`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..wecom import callback

PLAIN = "text/plain; charset=utf-8"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wecom_callback(request: HttpRequest) -> HttpResponse:
    """GET: URL verification (the decrypted echostr); POST: a message, answered with an
    encrypted passive reply. A refusal is its 4xx with a Chinese and English message."""
    try:
        if request.method == "GET":
            text = callback.verify_url(request.GET)
            return HttpResponse(text, content_type=PLAIN)
        length = int(request.headers.get("Content-Length") or 0)
        if length > callback.MAX_BODY:
            raise callback.CallbackRefused("消息过大", "the body is too large")
        body = callback.receive(request.GET, request.body)
    except callback.CallbackRefused as exc:
        return HttpResponse(
            exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
        )
    except ValueError:  # a Content-Length that is not a number
        return HttpResponse("请求格式错误 / bad request", status=400, content_type=PLAIN)
    kind = "text/plain" if body == "success" else "application/xml"
    return HttpResponse(body, content_type=f"{kind}; charset=utf-8")
