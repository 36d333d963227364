"""The data hub's rows: sources and their streams, import runs, what was refused, the
provenance of every imported field, the entity-resolution review queue, and saved
report templates (一套表).

A **source** is one agency's data interface (公安户籍, 民政救助 …) with its authority
rank; a **stream** is one table of it feeding one import target (persons, benefits …)
through a column mapping. A **run** reads a stream once; its counters are the run
report. **Seen rows** and **seen files** make imports exactly-once; a stream's
``state`` (the cursor) is saved in the same transaction as the rows it covers.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.imports import Context


class SourceKind(models.TextChoices):
    CSV = "csv", _("CSV 文件")
    XLSX = "xlsx", _("Excel 文件")
    FOLDER = "folder", _("目录投放")
    HTTP_JSON = "http_json", _("JSON 接口")
    SQL = "sql", _("数据库表")


class Contract(models.TextChoices):
    """What a stream does when the source's columns change (schema drift)."""

    PAUSE = "pause", _("暂停，等待处理")
    QUARANTINE = "quarantine", _("隔离本批，其余照常")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("进行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")
    PAUSED = "paused", _("已暂停")
    QUARANTINED = "quarantined", _("已隔离")


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("待核对")
    MERGED = "merged", _("已合并")
    DISTINCT = "distinct", _("非同一人")
    UNDONE = "undone", _("已撤销合并")


class Source(models.Model):
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    agency = models.CharField(_("提供单位"), max_length=60)
    kind = models.CharField(_("类型"), max_length=12, choices=SourceKind.choices)
    config = models.JSONField(_("连接参数"), default=dict, blank=True)
    rank = models.PositiveSmallIntegerField(
        _("权威等级"), default=10, help_text=_("数值越大越权威：公安 > 民政 > 社区采集")
    )
    schedule = models.CharField(_("计划"), max_length=40, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    description = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("数据源")
        verbose_name_plural = _("数据源")

    def __str__(self) -> str:
        return f"{self.name}（{self.agency}）"


class Stream(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="streams")
    name = models.SlugField(_("数据流"), max_length=40)
    label = models.CharField(_("名称"), max_length=60, blank=True)
    target = models.CharField(_("导入目标"), max_length=24)
    config = models.JSONField(
        _("读取参数"),
        default=dict,
        blank=True,
        help_text=_("本数据流自己的读取参数：接口路径、数据表、工作表、批量大小等"),
    )
    mapping = models.JSONField(
        _("字段映射"),
        default=list,
        blank=True,
        help_text=_('[{"column": "姓名", "field": "name", "transforms": ["trim"]}, …]'),
    )
    field_ranks = models.JSONField(_("字段权威等级"), default=dict, blank=True)
    cursor_field = models.CharField(_("增量游标字段"), max_length=60, blank=True)
    lookback = models.PositiveIntegerField(_("回看（秒）"), default=0)
    contract = models.CharField(
        _("结构变化时"), max_length=12, choices=Contract.choices, default=Contract.PAUSE
    )
    state = models.JSONField(_("状态"), default=dict, blank=True, editable=False)
    paused_reason = models.TextField(_("暂停原因"), blank=True)

    class Meta:
        ordering = ["source__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "name"], name="datahub_stream_unique")
        ]
        verbose_name = _("数据流")
        verbose_name_plural = _("数据流")

    def __str__(self) -> str:
        return f"{self.source.code}/{self.name}"


class ImportRun(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(
        _("状态"), max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    trigger = models.CharField(_("触发方式"), max_length=12, default="cli")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    file_name = models.CharField(_("文件名"), max_length=255, blank=True)
    file_sha256 = models.CharField(_("文件摘要"), max_length=64, blank=True, db_index=True)
    stored_file = models.CharField(_("暂存文件"), max_length=255, blank=True, editable=False)
    as_of = models.DateField(_("数据日期"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    position = models.PositiveIntegerField(_("已提交行"), default=0)
    read = models.PositiveIntegerField(_("读取"), default=0)
    inserted = models.PositiveIntegerField(_("新增"), default=0)
    updated = models.PositiveIntegerField(_("更新"), default=0)
    unchanged = models.PositiveIntegerField(_("未变"), default=0)
    rejected = models.PositiveIntegerField(_("拒收"), default=0)
    review = models.PositiveIntegerField(_("待核对"), default=0)
    drift = models.JSONField(_("结构变化"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")

    def __str__(self) -> str:
        return f"#{self.pk} {self.stream}"

    def context(self, actor: Any = None) -> Context:
        """What the run's target is told of it: written with, and rebuilt for a later
        decision on one of its rows (a review pair merged or found distinct)."""
        stream = self.stream
        source = stream.source
        return Context(
            run_id=self.pk,
            source_code=source.code,
            source_name=source.name,
            rank=source.rank,
            field_ranks=dict(stream.field_ranks or {}),
            as_of=self.as_of or timezone.localdate(self.started_at),
            actor=actor,
        )

    def report_line(self) -> str:
        return (
            f"read {self.read}, inserted {self.inserted}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        )


class SeenRow(models.Model):
    """A row already imported into a stream, by the hash of its raw values.

    One row per row imported, read only by (stream, digest): the unique constraint's
    index. The keys have no database constraint and no index of their own (PostgreSQL
    checked both keys of every row at commit, and kept two more index entries a row);
    the engine writes them with the run, in its transaction, and deleting a stream or a
    run still cascades through Django's on_delete."""

    stream = models.ForeignKey(
        Stream, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    digest = models.CharField(max_length=64)
    run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "digest"], name="datahub_seenrow_unique")
        ]


class RejectedRow(models.Model):
    """One refused row or field, with the reason sent back to the agency (问题数据)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rejects")
    line = models.PositiveIntegerField(_("行号"))
    field = models.CharField(_("字段"), max_length=60, blank=True)
    column = models.CharField(_("列名"), max_length=60, blank=True)
    code = models.CharField(_("问题代码"), max_length=40)
    reason = models.CharField(_("原因"), max_length=300)
    reason_en = models.CharField(_("原因（英文）"), max_length=300, blank=True)
    raw_value = models.CharField(_("原始值"), max_length=300, blank=True)
    row_enc = models.TextField(_("原始行(密文)"), blank=True, editable=False)

    class Meta:
        ordering = ["run", "line", "id"]
        indexes = [models.Index(fields=["run", "line"], name="datahub_reject_run_line")]
        verbose_name = _("问题数据")
        verbose_name_plural = _("问题数据")


class SourceValues(models.Model):
    """What one source says about one record (provenance): one row per record and
    source, every field it sent in ``data``.

    ``data`` maps a field to ``[value, rank, as_of, run_id, current, recorded_at]`` (the
    dates in ISO form): the source's latest value of the field, its rank for it, the
    date the agency's data speaks for, the run that sent it, whether the record holds
    it (the highest rank, the latest as-of date among equals) and when it was recorded;
    or, when its (as_of, run_id, recorded_at) are the row's shared ones under the key
    ``"@"``, to ``[value, rank, current]`` (a source sends its fields together: a
    record's row is half the size so).
    The losing values stay here and visible on the record's page. Personal values (ID
    numbers, phones) are stored masked. Read and written through
    :mod:`jiayuan.datahub.provenance` only.

    One row per record and source instead of one per field: an import of 公安户籍 wrote
    about eleven rows a person, and their index entries were most of its writing.
    """

    entity = models.CharField(_("对象类型"), max_length=24)  # "person", "household"
    object_id = models.BigIntegerField(_("对象"))
    # Without a database constraint or an index of its own: no page or query reads the
    # rows by source, and PostgreSQL checked the key of each row at commit (a deferred
    # trigger per row). Deleting a source still cascades through Django's on_delete.
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    data = models.JSONField(_("字段值"), default=dict)

    class Meta:
        # the unique constraint's index serves the look-ups by record (entity, object_id)
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "object_id", "source"], name="datahub_sourcevalues_unique"
            )
        ]


class ChangeKind(models.TextChoices):
    """What changed a held value: an import run, a person's review decision (merge or its
    undo), or a user's correction."""

    IMPORT = "import", _("导入")
    REVIEW = "review", _("核对")
    USER = "user", _("人工")


class FieldChange(models.Model):
    """The history of an imported field: which import or which user changed it."""

    entity = models.CharField(_("对象类型"), max_length=24)
    object_id = models.BigIntegerField(_("对象"))
    field = models.CharField(_("字段"), max_length=40)
    old = models.TextField(_("原值"), blank=True)
    new = models.TextField(_("新值"), blank=True)
    source = models.ForeignKey(
        Source, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run = models.ForeignKey(
        ImportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(
        _("变更方式"), max_length=8, choices=ChangeKind.choices, default=ChangeKind.IMPORT
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entity", "object_id"], name="datahub_fieldchange_obj")]


class ReviewPair(models.Model):
    """An incoming row that may be an existing person, held for a person's decision.

    Rows without a usable ID number are compared (blocked by community and birth
    date, scored on name, birth date and address); no pair is merged without a
    decision, and a merge keeps what it changed (``undo``) so it can be undone.
    """

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="pairs")
    line = models.PositiveIntegerField(_("行号"))
    incoming = models.JSONField(_("导入的记录"), default=dict)  # personal values masked
    incoming_enc = models.TextField(blank=True, editable=False)  # the full row, encrypted
    person = models.ForeignKey(
        "people.Person", verbose_name=_("候选居民"), on_delete=models.CASCADE, related_name="+"
    )
    area_path = models.CharField(_("区域路径"), max_length=64, db_index=True, editable=False)
    score = models.FloatField(_("相似度"))
    details = models.JSONField(_("比对明细"), default=dict)
    status = models.CharField(
        _("状态"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    undo = models.JSONField(_("撤销信息"), default=dict, blank=True, editable=False)

    scope_field = "area_path"

    class Meta:
        ordering = ["-score", "id"]
        indexes = [models.Index(fields=["status", "area_path"], name="datahub_pair_status")]
        verbose_name = _("待核对记录")
        verbose_name_plural = _("待核对记录")


class ReportTemplate(models.Model):
    """A saved one-table report: its rows, columns, measures and filter.

    ``standard`` names the standard form it answers (社区基本情况统计表 …); the
    shipped ones are loaded from the app's YAML and cannot be deleted.
    """

    code = models.SlugField(_("代码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=80)
    standard = models.BooleanField(_("标准报表"), default=False)
    spec = models.JSONField(_("定义"), default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-standard", "name"]
        verbose_name = _("报表模板")
        verbose_name_plural = _("报表模板")

    def __str__(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "standard": self.standard, **self.spec}
