"""Admin pages of the data hub's sources: sources are data, edited here and in
sources.yaml (``jiayuan hub sync-sources``). Runs and their rejected rows are records,
read-only here (the 数据汇聚 pages show them with their reports)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import engine
from .models import ImportRun, Source, Stream


class StreamInline(admin.StackedInline):
    model = Stream
    extra = 0
    fields = ("name", "label", "target", "contract", "mapping", "field_ranks", "config",
              "cursor_field", "lookback", "paused_reason")  # fmt: skip


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "agency", "kind", "rank", "schedule", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name", "agency")
    inlines = [StreamInline]


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ("__str__", "label", "target", "contract", "paused_reason")
    list_filter = ("target", "contract")
    readonly_fields = ("state",)
    actions = ["resume"]

    @admin.action(description="恢复所选数据流（映射已按新结构调整后）")
    def resume(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        for stream in queryset:
            engine.resume_stream(stream)
        messages.success(request, f"已恢复 {queryset.count()} 个数据流")


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Read-only: a run is the record of what an import did."""

    list_display = ("pk", "stream", "status", "file_name", "read", "inserted", "updated",
                    "unchanged", "rejected", "review", "started_at")  # fmt: skip
    list_filter = ("status", "stream__source")
    list_select_related = ("stream__source",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
