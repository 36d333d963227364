"""``jiayuan ingest``: the MQTT device gateway (see :mod:`jiayuan.iot.mqtt`)."""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from jiayuan.iot.ingest import SHARED_SUBSCRIPTION
from jiayuan.iot.mqtt import BATCH_SIZE, DEFAULT_BROKER, IngestConfig, Ingestor


class Command(BaseCommand):
    help = "接收设备 MQTT 消息：校验、入库、告警（可多进程共享订阅）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--broker", default=settings.MQTT_URL or DEFAULT_BROKER,
            help="mqtt://[user:password@]host:port (default JIAYUAN_MQTT_URL or local)",
        )  # fmt: skip
        parser.add_argument(
            "--client-id", default="",
            help="fixed MQTT client id (the persistent session's name); default host-instance",
        )  # fmt: skip
        parser.add_argument("--instance", type=int, default=0, help="process number on this host")
        parser.add_argument("--topic", default=SHARED_SUBSCRIPTION)
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--batch-ms", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("jiayuan.iot.ingest").setLevel(logging.INFO)
        config = IngestConfig(
            broker=options["broker"],
            client_id=options["client_id"],
            topic=options["topic"],
            batch_size=options["batch_size"],
            batch_ms=options["batch_ms"],
        )
        ingestor = Ingestor(config, config.resolved_client_id(options["instance"]))

        def stop(*_: object) -> None:
            ingestor.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"ingest: {config.broker} {config.topic} as {ingestor.client_id}")
        ingestor.run()
