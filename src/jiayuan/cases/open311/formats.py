"""The wire of Open311 GeoReport v2: the specification's constants, JSON and XML
rendering (ElementTree, with the specification's element names), its error array and
the view decorator that answers every error in it."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Bump when the shape of the service list or of the service definitions changes.
CHANGESET = "2026-07-01 00:00"
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
# XML element of each item of a list, by the list's element name.
ITEM_ELEMENT = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "errors": "error",
}


# --- errors -------------------------------------------------------------------------------
class Open311Error(Exception):
    """One or more errors answered as the specification's ``errors`` array."""

    def __init__(self, status: int, *messages: tuple[str, str]):
        self.status = status
        self.messages = list(messages)
        super().__init__("; ".join(f"{zh} / {en}" for zh, en in messages))


def _status_of(exc: BilingualError) -> int:
    # The specification knows 403 (api_key), 404 (no such resource) and 400 (the rest).
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    return 400


# --- rendering ----------------------------------------------------------------------------
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _element(name: str, value: Any) -> ET.Element:
    """The XML element of ``value`` following the Spark convention backwards: dicts
    become child elements, lists repeat the list's item element, None is empty."""
    el = ET.Element(name)
    if isinstance(value, dict):
        for key, item in value.items():
            el.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            el.append(_element(ITEM_ELEMENT[name], item))
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = _XML_ILLEGAL.sub("", str(value))
    return el


def render(fmt: str, root: str, data: Any, status: int = 200) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False)
    else:
        tree = ET.tostring(_element(root, data), encoding="unicode")
        body = f'<?xml version="1.0" encoding="utf-8"?>\n{tree}'
    return HttpResponse(body.encode(), status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(fmt: str, status: int, messages: Iterable[tuple[str, str]]) -> HttpResponse:
    data = [{"code": status, "description": f"{zh} / {en}"} for zh, en in messages]
    return render(fmt, "errors", data, status=status)


@dataclass
class Reply:
    root: str
    data: Any
    status: int = 200


def open311_view(*methods: str) -> Callable[..., Callable[..., HttpResponse]]:
    """Answer a view's :class:`Reply` in the requested format and every error as the
    specification's error array."""

    def wrap(view: Callable[..., Reply]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def inner(request: HttpRequest, *args: Any, fmt: str, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = render_errors(
                    fmt,
                    405,
                    [(f"不支持 {request.method} 方法", f"method {request.method} not allowed")],
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                reply = view(request, *args, **kwargs)
            except Open311Error as exc:
                return render_errors(fmt, exc.status, exc.messages)
            except BilingualError as exc:
                return render_errors(fmt, _status_of(exc), [(exc.zh, exc.en)])
            return render(fmt, reply.root, reply.data, reply.status)

        return inner

    return wrap


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the spec's format."""
    fmt = "json" if request.path.endswith(".json") else "xml"
    return render_errors(
        fmt,
        404,
        [
            (
                "资源不存在；请使用 .json 或 .xml 结尾的地址",
                "no such resource; addresses end in .json or .xml",
            )
        ],
    )


def w3c(value: dt.datetime | None) -> str | None:
    """A W3C datetime with the local offset: ``2026-11-28T09:30:00+08:00``."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")
