from django.contrib import admin

from .models import Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "area", "active")
    list_filter = ("role", "active")
    search_fields = ("user__username", "area__name")
    raw_id_fields = ("user", "area")
