"""``jiayuan hub …`` — the data hub from the command line.

    jiayuan hub sources [--fields]              the sources, their streams and last runs
    jiayuan hub sync-sources [--file F] [--force]  load sources.yaml into the database
    jiayuan hub check SOURCE [PATH] [--stream S]   can the source (or file) be read?
    jiayuan hub discover SOURCE [PATH] [--stream S]  its columns and five sample rows
    jiayuan hub import SOURCE [PATH] [--stream S] [--user U] [--as-of D]
    jiayuan hub resume SOURCE [--stream S]          lift a stream's pause (schema drift)

``import`` prints ``read N, inserted I, updated U, unchanged C, rejected R`` and the run
id, then every refused row with its line, column and field, in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayuan.core import imports, pii
from jiayuan.core.errors import BilingualError
from jiayuan.datahub import engine, sources
from jiayuan.datahub.connectors import connector, text_of
from jiayuan.datahub.models import ImportRun, RejectedRow, RunStatus

SHOWN_REJECTS = 50


class Command(BaseCommand):
    help = "数据汇聚：数据源、检查、字段发现与导入 / the data hub: sources, check, discover, import"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("sources", help="列出数据源与数据流 / list sources")
        listing.add_argument("--fields", action="store_true", help="列出导入目标的字段")
        load = sub.add_parser("sync-sources", help="从 YAML 载入数据源 / load sources.yaml")
        load.add_argument("--file", default="", help="YAML 文件（默认随应用发布的 sources.yaml）")
        load.add_argument("--force", action="store_true", help="以文件为准覆盖已修改的定义")
        for name, text in (
            ("check", "检查数据源能否读取 / check a source"),
            ("discover", "列出列名与样例行 / columns and sample rows"),
            ("import", "导入一次 / run one import"),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("source", help="数据源代码，如 gongan-huji")
            p.add_argument("path", nargs="?", default="", help="文件（文件类数据源）")
            p.add_argument("--stream", default="", help="数据流名称（数据源有多个时）")
            if name == "import":
                p.add_argument("--user", default="", help="以该账号导入 / import as this account")
                p.add_argument("--as-of", default="", help="数据日期 YYYY-MM-DD（默认今天）")
        resume = sub.add_parser("resume", help="恢复已暂停的数据流 / resume a paused stream")
        resume.add_argument("source")
        resume.add_argument("--stream", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "do_" + opts["action"].replace("-", "_"))(opts)
        except BilingualError as exc:
            raise CommandError(exc.message) from exc

    # --- actions ---------------------------------------------------------------------
    def do_sources(self, opts: dict[str, Any]) -> None:
        for source in sources.Source.objects.prefetch_related("streams"):
            self.stdout.write(
                f"{source.code}  {source.name}（{source.agency}）  {source.get_kind_display()}  "
                f"权威等级 {source.rank}{'  计划 ' + source.schedule if source.schedule else ''}"
            )
            for stream in source.streams.all():
                last = ImportRun.objects.filter(stream=stream).order_by("-pk").first()
                state = f"  已暂停：{stream.paused_reason}" if stream.paused_reason else ""
                ran = (
                    f"  最近 #{last.pk} {last.get_status_display()} {last.report_line()}"
                    if last
                    else ""
                )
                self.stdout.write(f"  - {stream.name} → {stream.target}{state}{ran}")
        if opts.get("fields"):
            for target in imports.all_targets():
                names = ", ".join(
                    f"{f.name}{'*' if f.required else ''}（{f.label}）" for f in target.fields
                )
                self.stdout.write(f"{target.code}（{target.label}）: {names}")

    def do_sync_sources(self, opts: dict[str, Any]) -> None:
        report = sources.sync(opts["file"] or None, force=opts["force"])
        self.stdout.write(report.summary())

    def _resolve(self, opts: dict[str, Any]) -> tuple[Any, Any, Path | None]:
        source = sources.get_source(opts["source"])
        stream = sources.pick_stream(source, opts["stream"] or None)
        path = Path(opts["path"]) if opts.get("path") else None
        if path is not None and not path.is_file():
            raise CommandError(f"文件不存在：{path} / no such file: {path}")
        return source, stream, path

    def do_check(self, opts: dict[str, Any]) -> None:
        source, stream, path = self._resolve(opts)
        connector(source, stream, path).check()
        self.stdout.write(self.style.SUCCESS(f"{source.code}/{stream.name}: 可以读取 / readable"))

    def do_discover(self, opts: dict[str, Any]) -> None:
        source, stream, path = self._resolve(opts)
        found = connector(source, stream, path).discover()
        personal = self._personal_columns(stream)
        self.stdout.write("列 / columns: " + ", ".join(found.columns))
        for i, sample in enumerate(found.samples, start=1):
            shown = {k: pii.mask_id_number(v) if k in personal else v for k, v in sample.items()}
            self.stdout.write(f"样例 {i}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))

    def _personal_columns(self, stream: Any) -> set[str]:
        try:
            fields = {f.name: f for f in imports.get(stream.target).fields}
        except BilingualError:
            return set()
        out = set()
        for item in stream.mapping or []:
            f = fields.get(item.get("field", ""))
            if f is not None and (f.pii or f.kind in (imports.Kind.ID_NUMBER, imports.Kind.PHONE)):
                out.update([item["column"], *(item.get("aliases") or [])])
        return out

    def do_import(self, opts: dict[str, Any]) -> None:
        source, stream, path = self._resolve(opts)
        actor = None
        if opts["user"]:
            actor = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"账号不存在：{opts['user']} / no such user")
        as_of = None
        if opts["as_of"]:
            try:
                as_of = dt.date.fromisoformat(opts["as_of"])
            except ValueError as exc:
                raise CommandError("--as-of 应为 YYYY-MM-DD / --as-of is YYYY-MM-DD") from exc
        if path is None:
            if engine.needs_file(stream):
                raise CommandError(
                    f"数据源 {source.code} 需要文件：jiayuan hub import {source.code} 文件 / "
                    f"source {source.code} needs a file"
                )
            runs = engine.sync(stream, actor=actor, trigger="cli")
        else:
            runs = [engine.run(stream, path, actor=actor, trigger="cli", as_of=as_of)]
        failed = False
        for run in runs:
            failed |= self._report(run)
        if not runs:
            self.stdout.write("没有新文件 / no new files")
        if failed:
            raise CommandError("导入未完成，见上 / the import did not finish, see above")

    def _report(self, run: ImportRun) -> bool:
        self.stdout.write(run.report_line())
        status = f"run {run.pk}: {run.status}"
        if run.review:
            status += f", review {run.review}"
        if run.drift.get("same_file_as"):
            status += f"（与批次 #{run.drift['same_file_as']} 的文件相同 / same file as run "
            status += f"{run.drift['same_file_as']}）"
        self.stdout.write(status)
        rejects = RejectedRow.objects.filter(run=run).order_by("line", "pk")
        for r in rejects[:SHOWN_REJECTS]:
            where = f"「{r.column}」({r.field})" if r.field else ""
            self.stdout.write(
                self.style.WARNING(
                    f"第 {r.line} 行{where}：{r.reason}（{text_of(r.raw_value)}）/ "
                    f"line {r.line}{', ' + r.field if r.field else ''}: {r.reason_en} [{r.code}]"
                )
            )
        more = rejects.count() - SHOWN_REJECTS
        if more > 0:
            self.stdout.write(f"… 另有 {more} 条问题数据 / {more} more problems")
        if run.error:
            self.stdout.write(self.style.ERROR(run.error))
        return run.status in (RunStatus.FAILED, RunStatus.PAUSED)

    def do_resume(self, opts: dict[str, Any]) -> None:
        source = sources.get_source(opts["source"])
        stream = sources.pick_stream(source, opts["stream"] or None)
        engine.resume_stream(stream)
        self.stdout.write(f"{stream} 已恢复 / resumed")
