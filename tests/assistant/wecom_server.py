"""A real HTTP server on 127.0.0.1 standing in for WeCom's group-robot webhook: it keeps
every message it receives (path, query, JSON body) and answers what the test queues
(``{"errcode": 0}`` by default)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PATH = "/cgi-bin/webhook/send"


@dataclass
class Received:
    path: str
    key: str
    body: dict[str, Any]


@dataclass
class FakeWeCom:
    base: str
    received: list[Received] = field(default_factory=list)
    # answers to give, in order: (HTTP status, body); empty → 200 errcode 0
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: dict[str, Any] | bytes) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append((status, raw))


@pytest.fixture
def wecom(settings: Any) -> Iterator[FakeWeCom]:
    fake: FakeWeCom

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            key = (urllib.parse.parse_qs(url.query).get("key") or [""])[0]
            with fake.lock:
                fake.received.append(Received(url.path, key, body))
                status, raw = (
                    fake.answers.pop(0) if fake.answers else (200, b'{"errcode":0,"errmsg":"ok"}')
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake = FakeWeCom(base=f"http://127.0.0.1:{server.server_address[1]}{PATH}")
    settings.ASSISTANT_WECOM_WEBHOOK_BASE = fake.base
    settings.ASSISTANT_WECOM_PER_MINUTE = 20
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
