"""``POST /api/v1/ingest``: a device posts with its own token, through the same pipeline
as MQTT."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from jiayuan.iot.ingest import make_message
from jiayuan.iot.models import Alarm, DeadLetter, Device, Message

URL = "/api/v1/ingest"


@pytest.fixture
def device_with_token(make_device: Any) -> tuple[Device, str]:
    device = make_device("smoke")
    raw = device.issue_token()
    device.save()
    return device, raw


def post(body: Any, token: str | None, header: str = "authorization") -> Any:
    headers = {}
    if token is not None:
        headers = (
            {"HTTP_AUTHORIZATION": f"Device {token}"}
            if header == "authorization"
            else {"HTTP_X_DEVICE_TOKEN": token}
        )
    data = body if isinstance(body, bytes) else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


def test_one_message_with_the_authorization_header(
    device_with_token: tuple[Device, str],
) -> None:
    device, token = device_with_token
    response = post(make_message({"event": "alarm"}, kind="event"), token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stored"] == 1 and len(body["alarms_raised"]) == 1 and body["cases"]
    assert Alarm.objects.filter(device=device, rule__code="smoke_alarm").exists()


def test_a_batch_with_the_x_device_token_header_and_a_bad_item(
    device_with_token: tuple[Device, str],
) -> None:
    device, token = device_with_token
    same = make_message({"battery": 50}, kind="heartbeat")
    batch = [same, same, {"kind": "event", "ts": same["ts"], "data": {}}]
    response = post(batch, token, header="x-device-token")
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["duplicates"]) == (1, 1)
    assert [r["index"] for r in body["rejected"]] == [2]
    assert "message_id" in body["rejected"][0]["reason"]
    assert Message.objects.filter(device=device).count() == 1
    assert DeadLetter.objects.filter(serial=device.serial, source="http").count() == 1


def test_nothing_accepted_is_422_and_bad_json_is_kept(
    device_with_token: tuple[Device, str],
) -> None:
    device, token = device_with_token
    assert post({"kind": "event", "message_id": "a", "ts": "x"}, token).status_code == 422
    response = post(b"{oops", token)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert DeadLetter.objects.filter(serial=device.serial, payload="{oops").exists()


def test_no_or_wrong_token_is_401(device_with_token: tuple[Device, str]) -> None:
    body = make_message({"event": "alarm"}, kind="event")
    assert post(body, None).status_code == 401
    assert post(body, "not-a-token").status_code == 401
    device, token = device_with_token
    Device.objects.filter(pk=device.pk).update(status="decommissioned")
    assert post(body, token).status_code == 401


def test_a_user_session_is_not_a_device(users: dict[str, Any]) -> None:
    client = Client()
    client.force_login(users["grid"])
    body = make_message({"event": "alarm"}, kind="event")
    response = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 401
