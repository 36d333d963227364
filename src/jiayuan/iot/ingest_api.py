"""``POST /api/v1/ingest``: devices (or vendors' edge boxes) that speak HTTP, not MQTT.

The device authenticates with its own token (``Authorization: Device <token>`` or
``X-Device-Token: <token>``) and posts one message or a list, in the MQTT body format
plus ``"kind"``. The same :func:`jiayuan.iot.ingest.ingest_batch` as MQTT stores and
evaluates them, in one transaction. Unlike MQTT, the cases of new alarms are opened in
that transaction too: the request is one device's (a handful of messages, not a
gateway's stream), the device waits for the answer anyway, and the answer names the
cases, which therefore commit with their alarms.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.security import APIKeyHeader

from jiayuan.core.errors import ValidationFailed

from .choices import DeviceStatus, IngestSource
from .ingest import from_http, ingest_batch
from .models import DeadLetter, Device

MAX_BATCH = 1000


class DeviceToken(APIKeyHeader):
    """A device's HTTP token; only its SHA-256 is stored (``Device.token_digest``)."""

    param_name = "X-Device-Token"

    def _get_key(self, request: HttpRequest) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "device" and value.strip():
            return value.strip()
        return request.headers.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Device | None:
        if not key:
            return None
        return (
            Device.objects.select_related("device_type")
            .filter(token_digest=Device.hash_token(key))
            .exclude(status=DeviceStatus.DECOMMISSIONED)
            .first()
        )


router = Router(tags=["设备接入 ingest"])

_MESSAGE = {
    "type": "object",
    "required": ["kind", "message_id", "ts"],
    "properties": {
        "kind": {"type": "string", "enum": ["telemetry", "event", "heartbeat"]},
        "message_id": {"type": "string", "maxLength": 64},
        "ts": {"type": "string", "description": "ISO 8601, or seconds/ms since the epoch"},
        "data": {"type": "object", "description": "payload fields of the device type"},
    },
}
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_MESSAGE, {"type": "array", "items": _MESSAGE}]},
                "example": {
                    "kind": "event",
                    "message_id": "9f1c2e",
                    "ts": "2026-11-28T08:00:00+08:00",
                    "data": {"event": "alarm", "battery": 87},
                },
            }
        },
    }
}


@router.post(
    "/ingest",
    auth=DeviceToken(),
    openapi_extra=_BODY_DOC,
    summary="设备上报消息 / device messages",
    response={200: dict[str, Any], 413: dict[str, Any], 422: dict[str, Any]},
)
def ingest(request: HttpRequest) -> Status:
    """Store one message or a list (at most 1,000). Answers what was stored, what was a
    duplicate and, per index, why a message was refused (also kept as a dead letter);
    422 when nothing could be accepted."""
    device: Device = request.auth  # type: ignore[attr-defined]
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        DeadLetter.objects.create(
            source=IngestSource.HTTP,
            serial=device.serial,
            payload=request.body[:10000].decode("utf-8", errors="replace"),
            reason="不是合法的 JSON / not valid JSON",
            area_path=device.area_path,
        )
        raise ValidationFailed("请求不是合法的 JSON", "the body is not valid JSON") from None
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_BATCH:
        return Status(413, {
            "code": "too_large",
            "message": f"每次最多 {MAX_BATCH} 条 / at most {MAX_BATCH} messages per request",
            "detail": None,
        })  # fmt: skip
    result = ingest_batch(
        [from_http(device, item) for item in items], source=IngestSource.HTTP,
        cases_in_batch=True,
    )  # fmt: skip
    status = 422 if items and result.dead_letters == len(items) else 200
    return Status(status, result.to_json())
