"""``jiayuan assistant sync|rebuild|eval|ask`` — install the knowledge base, rebuild the
retrieval indexes, evaluate on a YAML of questions, ask one question."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayuan.core.errors import BilingualError


class Command(BaseCommand):
    help = "数字助理：安装知识库（sync）、重建索引（rebuild）、评测（eval）、提问（ask）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("sync", help="安装缺少的知识条目与同义词（保留人工修改）")
        sub.add_parser("rebuild", help="重建检索索引并报告用时")
        ev = sub.add_parser("eval", help="按 YAML 问题集评测：top-1 准确率、弃答精确率与召回率")
        ev.add_argument("file", help="YAML 文件：[{q, expect: 编号 | [编号] | abstain}]")
        ev.add_argument("--strict", action="store_true", help="未达目标时以状态 1 退出")
        ev.add_argument("--verbose", "-V", action="store_true", help="列出每一题")
        ev.add_argument("--date", help="按该日期判断条目有效期（YYYY-MM-DD）")
        ask = sub.add_parser("ask", help="提一个问题，显示答复与得分")
        ask.add_argument("question")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except BilingualError as exc:
            raise CommandError(exc.message) from None

    def do_sync(self, options: dict[str, Any]) -> None:
        from jiayuan.assistant.kb import sync

        self.stdout.write(str(sync()))

    def do_rebuild(self, options: dict[str, Any]) -> None:
        from jiayuan.assistant import retrieval

        retrieval.invalidate()
        started = time.perf_counter()
        index = retrieval.current()
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"索引已重建：{len(index.entries)} 条目，{len(index.synonyms)} 个同义词，"
            f"词表 {len(index.words.idf)} 词、二元字表 {len(index.grams.idf)} 项，"
            f"用时 {seconds:.2f} 秒"
        )

    def do_eval(self, options: dict[str, Any]) -> None:
        import datetime as dt

        from jiayuan.assistant import evaluation
        from jiayuan.assistant.models import Entry

        day = None
        if options.get("date"):
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date：日期格式应为 YYYY-MM-DD / bad date: {exc}") from exc
        try:
            items = evaluation.load(options["file"])
        except OSError as exc:
            raise CommandError(f"无法读取 {options['file']} / cannot read: {exc}") from None
        missing = evaluation.unknown_keys(items, set(Entry.objects.values_list("key", flat=True)))
        if missing:
            self.stdout.write(f"注意：知识库中没有这些编号：{', '.join(missing)}")
        report = evaluation.evaluate(items, day=day)
        report.write(self.stdout, verbose=options["verbose"])
        missed = report.missed_goals()
        if missed:
            self.stdout.write(f"未达目标：{', '.join(missed)}")
            if options["strict"]:
                raise SystemExit(1)

    def do_ask(self, options: dict[str, Any]) -> None:
        from jiayuan.assistant import retrieval
        from jiayuan.assistant.answering import answer

        result = answer(options["question"])
        index = retrieval.current()
        for hit in index.search(options["question"]):
            e = index.entries[hit.index]
            self.stdout.write(
                f"{hit.score:.3f}（词 {hit.words:.3f}，字 {hit.bigrams:.3f}）{e.key} {e.title}"
            )
        state = f"弃答（{result.reason}）" if result.abstained else f"答 {result.entry}"
        self.stdout.write(f"{state}\n{result.text}")
