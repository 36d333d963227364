"""``jiayuan seed-demo``: build the demo county (演示县)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jiayuan.demo.records import SCALES
from jiayuan.demo.seed import seed_demo

LABELS = {
    "streets": "街道",
    "communities": "社区",
    "zones": "小区/片区",
    "grids": "网格",
    "buildings": "楼栋",
    "units": "单元",
    "dwellings": "房屋",
    "households": "家庭户",
    "residents": "居民",
    "party_members": "党员",
    "party_organisations": "党组织",
    "party_branches": "小区党支部",
    "central_households": "党员中心户",
    "three_heads": "三长",
    "positions": "职务",
    "forces": "共治力量",
    "person_tags": "个人标签",
    "household_tags": "家庭标签",
    "accounts": "演示账号",
}


class Command(BaseCommand):
    help = "生成演示县数据 / seed the demo county (tiny, county or bench scale)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(SCALES), default="county")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--if-empty", action="store_true", help="只在数据库中没有区域时生成 / only when empty"
        )
        parser.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        counts = seed_demo(
            scale=opts["scale"],
            seed=opts["seed"],
            progress=not opts["no_progress"] and opts["verbosity"] > 0,
            if_empty=opts["if_empty"],
        )
        if counts.get("skipped"):
            self.stdout.write("数据库中已有区域，跳过演示数据生成 / areas exist, seeding skipped")
            return
        elapsed = time.perf_counter() - started
        self.stdout.write(f"演示县（{opts['scale']}，seed {opts['seed']}）已生成：")
        for key, label in LABELS.items():
            self.stdout.write(f"  {label:<8}{key:<22}{counts[key]:>10,}")
        # what other apps add to the demo world (cases, …) after the foundation
        for key, value in counts.items():
            if key not in LABELS and isinstance(value, int) and not isinstance(value, bool):
                self.stdout.write(f"  {'':<8}{key:<22}{value:>10,}")
        self.stdout.write(self.style.SUCCESS(f"用时 {elapsed:.1f} 秒 / done in {elapsed:.1f} s"))
