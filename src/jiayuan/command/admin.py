from django.contrib import admin

from .models import Availability, Mobilisation, Outbox


@admin.register(Mobilisation)
class MobilisationAdmin(admin.ModelAdmin):
    list_display = ("number", "status", "head_count", "created_by_name", "created_at")
    list_filter = ("status",)
    search_fields = ("number", "message")
    readonly_fields = ("area_path", "first_ack_at", "head_count_at", "assembled_at", "closed_at")


@admin.register(Availability)
class AvailabilityAdmin(admin.ModelAdmin):
    list_display = ("force", "windows")
    raw_id_fields = ("force",)


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    list_display = ("channel", "recipient", "ref", "send_after", "sent_at", "error")
    list_filter = ("channel",)
