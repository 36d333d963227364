"""One progress bar for the whole seed: the stage being written and an estimate of the
time left, instead of a scroll of one bar per table.

The seed knows every stage and its size before it starts (the plan is built first), so
the bar's total is the whole seed's estimated work: each stage weighs its rows times a
cost per row measured on the county seed (:data:`COST`), and stages other apps add
(cases, policies, devices) weigh what they took there. tqdm's estimate of the time left
then holds across stages that write at very different speeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

# Seconds per row of each stage (or per resident, for stages sized by the population),
# measured on the county seed on SQLite; only their proportions matter.
COST: dict[str, float] = {
    "规划": 40e-6,  # planning the world, per resident
    "区域": 60e-6,
    "房屋": 45e-6,
    "家庭户": 45e-6,
    "加密身份证号": 35e-6,
    "居民": 75e-6,
    "户主": 30e-6,
    "居住记录": 50e-6,
    "标签": 60e-6,
    "个人标签": 50e-6,
    "家庭标签": 50e-6,
    "党组织": 50e-6,
    "职务": 50e-6,
    "共治力量": 50e-6,
    "党员中心户": 50e-6,
    "中心户联系户": 40e-6,
    "规则标签": 30e-6,  # per resident
    "账号": 20e-3,  # per account (password hash shared, the rest one by one)
    "诉求": 350e-6,  # a year of cases, per resident
    "政策": 60e-6,  # benefits and a matching run, per resident
    "设备": 60e-6,  # devices and their messages, per resident
    "社区服务": 20e-6,  # the community services' demo, per resident
}
DEFAULT_COST = 50e-6
# Stages sized by the population rather than by rows written: no row count shown.
PER_RESIDENT = frozenset({"规划", "规则标签", "诉求", "政策", "设备", "社区服务"})


class Progress:
    """The seed's one bar (silent when not ``enabled``), and the seconds each stage took.

    ``plan`` lists the stages in order with their sizes; :meth:`stage` opens one and
    yields a function that reports rows done. A stage not in the plan still runs and is
    timed, it just adds nothing to the bar.
    """

    def __init__(self, plan: list[tuple[str, int]], *, enabled: bool = True) -> None:
        self.weights = {label: size * COST.get(label, DEFAULT_COST) for label, size in plan}
        self.sizes = dict(plan)
        self.cpu_seconds: dict[str, float] = {}
        self.wall_seconds: dict[str, float] = {}
        self.bar: Any = tqdm(
            total=sum(self.weights.values()) or 1.0,
            desc="演示县",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| 已用 {elapsed}，预计还需 {remaining}",
            disable=not enabled,
            leave=enabled,
        )

    def refine(self, plan: list[tuple[str, int]]) -> None:
        """Replace the sizes of stages not started yet (known once the world is planned)
        and re-total the bar from what is done plus what is left."""
        for label, size in plan:
            if label not in self.cpu_seconds:
                self.sizes[label] = size
                self.weights[label] = size * COST.get(label, DEFAULT_COST)
        left = sum(w for label, w in self.weights.items() if label not in self.cpu_seconds)
        self.bar.total = self.bar.n + left or 1.0
        self.bar.refresh()

    @contextmanager
    def stage(self, label: str, size: int | None = None) -> Iterator[Any]:
        """Run one stage: the bar names it, and ``advance(rows)`` moves the bar."""
        size = self.sizes.get(label, 0) if size is None else size
        weight = self.weights.get(label, 0.0)
        per_row = weight / size if size else 0.0
        moved = 0.0
        rows = f" {size:,} 行" if size and label not in PER_RESIDENT else ""
        self.bar.set_description_str(f"演示县 · {label}{rows}")

        def advance(rows: int) -> None:
            nonlocal moved
            step = min(rows * per_row, weight - moved)
            if step > 0:
                moved += step
                self.bar.update(step)

        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield advance
        finally:
            self.cpu_seconds[label] = round(time.process_time() - cpu, 2)
            self.wall_seconds[label] = round(time.perf_counter() - wall, 2)
            if weight > moved:
                self.bar.update(weight - moved)

    def close(self) -> None:
        """End the bar: complete when every planned stage ran (floating-point sums of
        the weights can leave it a hair short), where it stopped otherwise."""
        if all(label in self.cpu_seconds for label in self.weights):
            self.bar.n = self.bar.total
            self.bar.set_description_str("演示县 · 完成")
        self.bar.close()
