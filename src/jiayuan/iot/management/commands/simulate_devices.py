"""``jiayuan simulate-devices``: realistic traffic from the registered devices (see
:mod:`jiayuan.iot.simulator`)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayuan.iot import simulator
from jiayuan.iot.mqtt import DEFAULT_BROKER


class Command(BaseCommand):
    help = "模拟设备上报：心跳、遥测、随机告警、离线设备和异常报文（MQTT 或 HTTP）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--devices", type=int, default=1000, help="模拟的设备数")
        parser.add_argument("--rate", type=float, default=100.0, help="每秒消息数")
        parser.add_argument(
            "--seconds", type=float, default=None, help="持续秒数（默认60；保活模式默认一直运行）"
        )
        way = parser.add_mutually_exclusive_group()
        way.add_argument("--mqtt", dest="transport", action="store_const", const="mqtt")
        way.add_argument("--http", dest="transport", action="store_const", const="http")
        parser.set_defaults(transport="mqtt")
        parser.add_argument("--broker", default=settings.MQTT_URL or DEFAULT_BROKER)
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="HTTP 接入地址")
        parser.add_argument("--types", default="", help="只模拟这些类型，逗号分隔，如 smoke,gas")
        parser.add_argument("--alarm-share", type=float, default=simulator.Mix.alarm)
        parser.add_argument("--malformed-share", type=float, default=simulator.Mix.malformed)
        parser.add_argument("--offline-share", type=float, default=simulator.Mix.offline)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--keep-alive", action="store_true",
            help="保活模式（jiayuan demo 在后台运行）：所有在用设备按类型间隔发心跳，"
            "偶发事件和告警，直接送入接入管道，直到收到停止信号（或 --seconds 秒后）",
        )  # fmt: skip
        parser.add_argument(
            "--alarms-per-hour", type=float, default=simulator.KeepAliveMix.alarms_per_hour,
            help="保活模式下全部设备每小时的真实告警数",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep_alive"]:
            self._keep_alive(options)
            return
        types = [t for t in options["types"].split(",") if t]
        devices = simulator.load_devices(options["devices"], types=types or None)
        if not devices:
            raise CommandError("没有可模拟的设备：请先 jiayuan seed-demo / no devices to simulate")
        mix = simulator.Mix(
            alarm=options["alarm_share"],
            malformed=options["malformed_share"],
            offline=options["offline_share"],
        )
        sender: Any
        if options["transport"] == "http":
            simulator.issue_tokens(devices)
            self.stdout.write(f"已为 {len(devices)} 台设备重新签发 HTTP 令牌（旧令牌失效）")
            sender = simulator.HttpSender(options["url"])
            where = options["url"]
        else:
            sender = simulator.MqttSender(options["broker"])
            where = options["broker"]
        traffic = simulator.Traffic(devices, mix=mix, seed=options["seed"])
        seconds = options["seconds"] if options["seconds"] is not None else 60.0
        silent = sum(1 for d in devices if d.silent)
        self.stdout.write(
            f"模拟 {len(devices)} 台设备（{silent} 台保持离线）→ {where}，"
            f"每秒 {options['rate']:g} 条，持续 {seconds:g} 秒"
        )
        try:
            sent = simulator.run(
                traffic, sender, rate=options["rate"], seconds=seconds, report=self.stdout.write
            )
        except KeyboardInterrupt:
            sent = traffic.sent
        finally:
            sender.close()
        self.stdout.write("完成：" + simulator._summary(sent))
        statuses = getattr(sender, "statuses", None)
        if statuses:
            self.stdout.write(
                "HTTP 应答：" + " ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))
            )

    def _keep_alive(self, options: dict[str, Any]) -> None:
        """Run until SIGTERM / SIGINT (``jiayuan demo`` stops it with the web server)."""
        devices, last_seen = simulator.load_working_devices()
        keep = simulator.KeepAlive(
            devices, last_seen=last_seen, seed=options["seed"],
            mix=simulator.KeepAliveMix(alarms_per_hour=options["alarms_per_hour"]),
        )  # fmt: skip
        stop = threading.Event()

        def halt(*_: object) -> None:
            stop.set()

        before = {sig: signal.signal(sig, halt) for sig in (signal.SIGTERM, signal.SIGINT)}
        rate = sum(1 / keep.interval(d) for d in devices)
        self.stdout.write(
            f"设备保活：{len(devices)} 台在用设备，约每秒 {rate:.1f} 条心跳（直接送入接入管道）",
        )
        self.stdout.flush()
        try:
            sent = simulator.keep_alive(
                keep, stop=stop, seconds=options["seconds"] or 0.0, report=self.stdout.write
            )
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
        self.stdout.write("设备保活结束：" + simulator._summary(sent))
