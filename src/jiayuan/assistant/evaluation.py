"""Evaluation of the assistant on a YAML of questions (``jiayuan assistant eval FILE``).

Each item is ``{q, expect}`` with ``expect`` an entry's key, a list of keys (any of them
answers it) or ``abstain``. Figures:

* top-1 accuracy — questions answered with an expected entry, over the answerable ones;
* abstention precision — abstentions that were expected, over all abstentions;
* abstention recall — expected abstentions that happened, over all expected ones.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jiayuan.core.errors import ValidationFailed

from .answering import Answer, answer
from .kb import yaml_list

ABSTAIN = "abstain"


class Writer(Protocol):
    def write(self, text: str) -> Any: ...


# The acceptance goals of issue 15.
GOALS = {"top1": 0.85, "precision": 0.90, "recall": 0.90}


@dataclass(frozen=True)
class Item:
    question: str
    expect: tuple[str, ...]  # keys, or ("abstain",)
    why: str = ""

    @property
    def abstain(self) -> bool:
        return self.expect == (ABSTAIN,)


@dataclass
class Outcome:
    item: Item
    result: Answer

    @property
    def passed(self) -> bool:
        if self.item.abstain:
            return self.result.abstained
        return not self.result.abstained and self.result.entry in self.item.expect


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.item.abstain]

    @property
    def top1(self) -> float:
        items = self.answerable
        return sum(o.passed for o in items) / len(items) if items else 1.0

    @property
    def precision(self) -> float:
        abstained = [o for o in self.outcomes if o.result.abstained]
        return sum(o.item.abstain for o in abstained) / len(abstained) if abstained else 1.0

    @property
    def recall(self) -> float:
        expected = [o for o in self.outcomes if o.item.abstain]
        return sum(o.result.abstained for o in expected) / len(expected) if expected else 1.0

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    def missed_goals(self) -> list[str]:
        return [name for name, goal in GOALS.items() if getattr(self, name) < goal]

    def write(self, out: Writer, *, verbose: bool = False) -> None:
        for o in self.outcomes:
            if o.passed and not verbose:
                continue
            got = f"弃答（{o.result.reason}）" if o.result.abstained else f"答 {o.result.entry}"
            mark = "通过" if o.passed else "失败"
            expect = "|".join(o.item.expect)
            out.write(
                f"{mark}  {o.item.question}  期望 {expect}，实际 {got}"
                f"（得分 {o.result.score:.3f}）\n"
            )
        n = len(self.answerable)
        abstained = sum(o.result.abstained for o in self.outcomes)
        expected = len(self.outcomes) - n
        out.write(
            f"top-1 准确率 {self.top1:.1%}（{sum(o.passed for o in self.answerable)}/{n}）；"
            f"弃答精确率 {self.precision:.1%}（弃答 {abstained} 次），"
            f"召回率 {self.recall:.1%}（应弃答 {expected} 题）\n"
        )
        out.write(f"{self.passed} passed, {self.failed} failed\n")


def parse(text: str, where: str = "") -> list[Item]:
    """The items of an evaluation YAML (errors name the file and the item)."""
    data = yaml_list(text, where, ("问题列表", "list of questions"))
    items = []
    for i, raw in enumerate(data, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("q"), str):
            raise ValidationFailed(f"{where}：第 {i} 项缺少 q", f"{where}: item {i} has no q")
        expect = raw.get("expect")
        keys = expect if isinstance(expect, list) else [expect]
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ValidationFailed(
                f"{where}：第 {i} 项的 expect 应为条目编号、编号列表或 abstain",
                f"{where}: item {i}: expect must be a key, a list of keys or abstain",
            )
        items.append(Item(raw["q"], tuple(keys), str(raw.get("why") or "")))
    return items


def load(path: Path | str) -> list[Item]:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def evaluate(items: list[Item], *, day: dt.date | None = None,
             ask: Callable[..., Answer] = answer) -> Report:  # fmt: skip
    return Report([Outcome(item, ask(item.question, day=day)) for item in items])


def unknown_keys(items: list[Item], keys: set[str]) -> list[str]:
    """Expected keys that no entry of the base has (a typo in the set, or a missing entry)."""
    return sorted({k for i in items for k in i.expect if k != ABSTAIN and k not in keys})


def summary(report: Report) -> dict[str, Any]:
    return {
        "top1": report.top1,
        "precision": report.precision,
        "recall": report.recall,
        "passed": report.passed,
        "failed": report.failed,
    }


EVAL_DIR = Path(__file__).resolve().parent / "data" / "eval"
EVAL_FILES = ("questions.yaml", "dev.yaml")


@functools.cache
def shipped_questions() -> tuple[str, ...]:
    """The questions of the shipped evaluation sets, each once (read once per process):
    the editor's preview answers them, the demo's residents ask them."""
    seen: dict[str, None] = {}
    for name in EVAL_FILES:
        path = EVAL_DIR / name
        if path.exists():
            for item in load(path):
                seen.setdefault(item.question, None)
    return tuple(seen)
