from django.contrib import admin

from .models import Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "scope")
    list_filter = ("category", "scope")
    search_fields = ("code", "name")
