"""``jiayuan import-hotline FILE``: import 12345 hotline orders from CSV or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayuan.cases.importer import FIELDS, import_hotline, parse_mapping
from jiayuan.core.errors import BilingualError


class Command(BaseCommand):
    help = (
        "导入12345热线工单（CSV 或 XLSX）/ import 12345 hotline orders. "
        f"Fields: {', '.join(f'{k} ({v})' for k, v in FIELDS.items())}"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV 或 XLSX 文件 / a .csv or .xlsx file")
        parser.add_argument(
            "--mapping",
            default="",
            help="列映射 列名=字段,… / column=field,… e.g. 工单号=source_ref,反映内容=description",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="只校验不写入 / validate only, write nothing"
        )
        parser.add_argument(
            "--user", default="", help="以该账号导入（限其辖区）/ import as this account"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path} / no such file: {path}")
        actor = None
        if opts["user"]:
            actor = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"账号不存在：{opts['user']} / no such user")
        try:
            report = import_hotline(
                path, mapping=parse_mapping(opts["mapping"]), actor=actor, dry_run=opts["dry_run"]
            )
        except BilingualError as exc:
            raise CommandError(str(exc)) from exc
        for line, ref in report.skipped:
            self.stdout.write(
                f"第 {line} 行：工单 {ref} 已导入过，跳过 / "
                f"line {line}: order {ref} exists, skipped"
            )
        for error in report.errors:
            self.stdout.write(self.style.ERROR(str(error)))
        self.stdout.write(
            (self.style.WARNING if report.errors else self.style.SUCCESS)(report.summary())
        )
        if report.dry_run:
            self.stdout.write("试运行，未写入任何数据 / dry run: nothing was written")
        if report.errors:
            raise CommandError(
                f"{len(report.failed_lines)} 行未导入，见上 / "
                f"{len(report.failed_lines)} rows were not imported, see above"
            )
