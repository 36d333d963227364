"""Who is acting, from where: set by the request middleware or by a job/CLI."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ActingContext:
    request_id: str
    client_address: str = ""
    channel: str = "web"  # web | api | cli | job | import


_current: contextvars.ContextVar[ActingContext | None] = contextvars.ContextVar(
    "jiayuan_acting_context", default=None
)


def current() -> ActingContext:
    ctx = _current.get()
    return ctx or ActingContext(request_id="", channel="cli")


@contextlib.contextmanager
def acting(channel: str, client_address: str = "", request_id: str = "") -> Iterator[ActingContext]:
    ctx = ActingContext(request_id or uuid.uuid4().hex[:16], client_address, channel)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
