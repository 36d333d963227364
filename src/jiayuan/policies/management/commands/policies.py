"""``jiayuan policies match|sync|test`` — run the matching, install the catalogue, run
YAML policy tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "政策找人：匹配（match）、安装政策目录（sync）、运行政策测试（test）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        match = sub.add_parser("match", help="对全部居民运行政策匹配")
        match.add_argument("--date", help="匹配日期 YYYY-MM-DD（默认今天）")
        match.add_argument("--policy", action="append", dest="codes", help="只匹配该政策代码")
        match.add_argument("--no-progress", action="store_true", help="不显示进度条")
        match.add_argument(
            "--full", action="store_true", help="全量匹配（默认只重算上次以来可能变化的居民）"
        )
        sub.add_parser("sync", help="安装缺少的政策与参数（保留已修改的内容）")
        test = sub.add_parser("test", help="运行 YAML 政策测试")
        test.add_argument("paths", nargs="+", help="YAML 文件或目录")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "match":
            self.match(options)
        elif action == "sync":
            from jiayuan.policies.catalogue import install

            self.stdout.write(f"新增政策 {install()} 项")
        else:
            from jiayuan.policies.yamltests import run_paths

            _, failed = run_paths(options["paths"], self.stdout)
            if failed:
                raise SystemExit(1)

    def match(self, options: dict[str, Any]) -> None:
        from jiayuan.policies.matching import run_matching

        day = None
        if options.get("date"):
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date：日期格式应为 YYYY-MM-DD / bad date: {exc}") from exc
        run = run_matching(
            day,
            codes=options.get("codes"),
            progress=not options["no_progress"],
            full=options.get("full", False),
        )
        self.stdout.write(f"匹配日期 {run.ref_date}，批次 #{run.pk}")
        self.stdout.write(f"{'政策':<24}{'新增':>8}{'关闭':>8}{'即将符合':>8}{'待办':>8}{'秒':>8}")
        totals = [0, 0, 0, 0]
        for code, r in run.summary.items():
            row = [r["new"], r["closed"], r["upcoming"], r["open"]]
            totals = [a + b for a, b in zip(totals, row, strict=True)]
            mode = "全量" if r.get("mode", "full") == "full" else f"增量 {r.get('scope', 0)} 人"
            self.stdout.write(
                f"{code:<24}" + "".join(f"{v:>8}" for v in row) + f"{r['seconds']:>8.2f}  {mode}"
            )
        self.stdout.write(f"{'合计':<24}" + "".join(f"{v:>8}" for v in totals))
