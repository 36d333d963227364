"""``jiayuan assistant eval FILE``: top-1 accuracy, abstention precision and recall, a
line per failure, ``N passed, M failed``; ``--strict`` exits 1 when a goal is missed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jiayuan.assistant import evaluation

pytestmark = pytest.mark.django_db

GOOD = """
- q: 高龄津贴谁能领
  expect: policy-gaoling-jintie
- q: 明天汶上下雨不 俺要去赶集
  expect: abstain
"""
ONE_WRONG = (
    GOOD
    + """
- q: 城乡居民基本养老保险待遇谁能领
  expect: [policy-dibao, policy-tekun-gongyang]
"""
)


def run(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "set.yaml"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("assistant", "eval", str(path), *args, stdout=out)
    return out.getvalue()


def test_a_passing_set(tmp_path: Path) -> None:
    out = run(tmp_path, GOOD, "--strict")
    assert "top-1 准确率 100.0%（1/1）" in out
    assert "弃答精确率 100.0%" in out and "召回率 100.0%" in out
    assert out.rstrip().endswith("2 passed, 0 failed")


def test_a_failure_is_listed_and_strict_exits_1(tmp_path: Path) -> None:
    out = run(tmp_path, ONE_WRONG)
    assert "失败  城乡居民基本养老保险待遇谁能领  期望 policy-dibao|policy-tekun-gongyang" in out
    assert "实际 答 policy-jumin-yanglao" in out
    assert "2 passed, 1 failed" in out
    assert "未达目标：top1" in out
    with pytest.raises(SystemExit) as caught:
        run(tmp_path, ONE_WRONG, "--strict")
    assert caught.value.code == 1


def test_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="expect"):
        run(tmp_path, "- q: 问题\n  expect: 3\n")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("assistant", "eval", str(tmp_path / "missing.yaml"))


def test_figures() -> None:
    items = evaluation.parse(ONE_WRONG)
    report = evaluation.evaluate(items)
    assert report.top1 == 0.5
    assert (report.precision, report.recall) == (1.0, 1.0)
    assert (report.passed, report.failed) == (2, 1)
    assert report.missed_goals() == ["top1"]
