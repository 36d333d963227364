"""The one screen's live stream (server-sent events): ``GET /command/screen/<id>/live/``.

The page opens an ``EventSource`` on it; each new alarm, new case, case step or
mobilisation milestone of the scope (:mod:`jiayuan.command.screen.feed`) arrives as one
``data:`` line of JSON within a poll interval of its commit, with the feed's cursor as
its ``id:``.

Why the stream is bounded, and capped per process
    The web server is gunicorn with 4 threads per worker (``jiayuan serve``), and a
    stream holds its thread for as long as it is open: four screens left open would take
    every thread of a worker and its pages would stop answering. So

    * a stream ends after :attr:`Limits.duration_s` (55 s, under the usual 60 s proxy
      and load balancer timeouts); the browser's ``EventSource`` reconnects by itself
      after the ``retry:`` delay, sending ``Last-Event-ID``, and the new stream resumes
      exactly after the last event received (the cursor in the id);
    * at most :attr:`Limits.max_streams` streams (half the threads) are open per process
      at once. Beyond that the request is answered at once with a ``retry:`` of several
      seconds and no events: the browser comes back later (a 503 would make
      ``EventSource`` give up for good), and the other threads stay free for pages.

    Between polls the thread sleeps; a poll is three primary-key range scans when
    nothing happened. After each poll the stream looks whether the browser has closed
    the connection (gunicorn passes the socket: :func:`peer_gone`) and ends at once if
    so, so a reloaded screen does not find its old stream still holding a slot. A
    comment line (``: hb``) is sent after :attr:`Limits.heartbeat_s`
    of silence so that proxies do not close an idle connection; ``X-Accel-Buffering: no``
    keeps nginx from holding the events back.

The database connection
    The generator runs on the request's thread after the view has returned. When it
    ends (its time is up, the client went away, or the database failed) Django's
    ``request_finished`` signal fires from ``response.close()`` and closes the
    connection if it is past ``CONN_MAX_AGE`` or broken, as for any request; every poll
    runs in autocommit, so no transaction (and on SQLite no read snapshot) is held open
    between polls. The slot of the cap is released by the response's ``close()`` as
    well, even when the body was never iterated.
"""

from __future__ import annotations

import json
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from jiayuan.core.errors import NotFound
from jiayuan.core.views import not_found

from .screen import layers
from .screen.feed import Cursor, Event, Feed

log = logging.getLogger("jiayuan.command.live")


@dataclass
class Limits:
    """How long a stream lasts, how often it polls and how many may be open at once in
    this process (see the module docstring). Tests shorten them."""

    duration_s: float = 55.0
    poll_s: float = 0.5
    heartbeat_s: float = 15.0
    retry_ms: int = 1000
    busy_retry_ms: tuple[int, int] = (5000, 15000)  # spread the returning browsers
    max_streams: int = 2  # of the 4 threads of a gunicorn worker


LIMITS = Limits()
_lock = threading.Lock()
_open = 0


def open_streams() -> int:
    return _open


def _take_slot() -> bool:
    global _open
    with _lock:
        if _open >= LIMITS.max_streams:
            return False
        _open += 1
        return True


def _give_slot() -> None:
    global _open
    with _lock:
        _open = max(0, _open - 1)


def sse(event: Event) -> str:
    """One server-sent event: its id (the cursor after it) and one line of JSON."""
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.cursor}\ndata: {data}\n\n"


def peer_gone(sock: Any) -> bool:
    """Whether the browser closed the connection (the socket reads end-of-file). Writes
    alone would notice only at the next heartbeat, while the slot stays taken: a screen
    reloaded on a wall would find its own old stream still holding it."""
    if sock is None:
        return False
    try:
        if sock.fileno() < 0:  # closed on this side already
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except ValueError:  # a TLS socket takes no flags: leave it to the writes
        return False
    except OSError:
        return True


class Stream:
    """The body of one stream. Django calls :meth:`close` when the response is done
    (after the last chunk, or when the client went away), which frees the slot."""

    def __init__(
        self,
        feed: Feed,
        limits: Limits,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        gone: Callable[[], bool] = lambda: False,
    ) -> None:
        self.feed = feed
        self.limits = limits
        self.sleep = sleep
        self.clock = clock
        self.gone = gone
        self.closed = False
        self._body = self._events()

    def __iter__(self) -> Iterator[str]:
        return self._body

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._body.close()
        _give_slot()

    def _events(self) -> Generator[str, None, None]:
        limits = self.limits
        start = self.clock()
        deadline = start + limits.duration_s
        cursor = self.feed.cursor.encode()
        # The id first: a browser that reconnects before any event resumes from here.
        yield f"retry: {limits.retry_ms}\nid: {cursor}\n\n"
        quiet_since = start
        while True:
            try:
                events = self.feed.poll()
            except DatabaseError:
                log.warning("screen stream: the database failed; the browser will reconnect")
                return
            for event in events:
                yield sse(event)
            now_cursor = self.feed.cursor.encode()
            now = self.clock()
            if events:
                quiet_since = now
            elif now_cursor != cursor:
                # Rows of other scopes moved the cursor: tell the browser, without an event.
                yield f"id: {now_cursor}\n\n"
            elif now - quiet_since >= limits.heartbeat_s:
                yield ": hb\n\n"
                quiet_since = now
            cursor = now_cursor
            if now >= deadline:
                break
            if self.gone():
                return
            self.sleep(min(limits.poll_s, max(0.0, deadline - now)))
        yield ": bye\n\n"


def _headers(response: HttpResponseBase) -> HttpResponseBase:
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def busy() -> HttpResponseBase:
    """The answer beyond the cap: come back in a few seconds (no events, no id: the
    browser keeps the last one it had)."""
    retry = random.randint(*LIMITS.busy_retry_ms)  # noqa: S311 - spreading, not secrecy
    response = HttpResponse(
        f"retry: {retry}\n: busy\n\n", content_type="text/event-stream; charset=utf-8"
    )
    return _headers(response)


@login_required
@require_GET
def screen_live(request: HttpRequest, area_id: int) -> HttpResponseBase:
    """实时推送: the scope's changes as server-sent events, resuming from
    ``Last-Event-ID`` (or ``?since=``, the cursor the page was drawn at). An area the
    user may not see (or not a county, street or community) is the usual 404 page."""
    user: Any = request.user
    try:
        area = layers.screen_area(user, area_id)
    except NotFound:
        return not_found(request)
    raw = request.headers.get("Last-Event-ID") or request.GET.get("since", "")
    cursor = Cursor.decode(raw)
    if not _take_slot():
        return busy()
    try:
        feed = Feed(user, area, cursor)
        # gunicorn hands the connection's socket to the application: a closed browser
        # is noticed at the next poll instead of the next heartbeat
        sock = request.META.get("gunicorn.socket")
        stream = Stream(feed, LIMITS, gone=lambda: peer_gone(sock))
    except BaseException:
        _give_slot()
        raise
    response = StreamingHttpResponse(stream, content_type="text/event-stream; charset=utf-8")
    _headers(response)
    return response
