"""The MQTT gateway's batch handling, in-process (no broker needed): a message that
trips a bug must not block the gateway forever."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.iot import ingest as ingest_module
from jiayuan.iot.ingest import encode, make_message, topic_for
from jiayuan.iot.models import DeadLetter, Message
from jiayuan.iot.mqtt import IngestConfig, Ingestor, _Inbound


def test_a_poison_message_becomes_a_dead_letter_and_the_rest_is_stored(
    make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, poison = make_device("smoke"), make_device("smoke")
    real = ingest_module.evaluate

    def evaluate(messages: Any, **kw: Any) -> Any:
        if any(m.device.pk == poison.pk for m in messages):
            raise ZeroDivisionError("a bug")
        return real(messages, **kw)

    monkeypatch.setattr(ingest_module, "evaluate", evaluate)
    gateway = Ingestor(IngestConfig(), client_id="test-gateway-unit")
    batch = [
        _Inbound(0, 0, topic_for(d.serial, "event"), encode(make_message({"event": "test"})))
        for d in (good, poison)
    ]
    result = gateway.flush(batch)
    assert result.stored == 1 and len(result.rejected) == 1
    assert Message.objects.filter(device=good).count() == 1
    assert not Message.objects.filter(device=poison).exists()
    letter = DeadLetter.objects.get(serial=poison.serial)
    assert "ZeroDivisionError" in letter.reason and letter.area_path == poison.area_path
