from django.contrib import admin

from .models import Finding, Scan


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "ref", "status", "progress", "findings_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "project__name", "commit_sha"]
    readonly_fields = [field.name for field in Scan._meta.fields]


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ["rule_id", "tool", "severity", "status", "path", "start_line", "scan"]
    list_filter = ["tool", "severity", "status"]
    search_fields = ["rule_id", "path", "fingerprint"]
    readonly_fields = [field.name for field in Finding._meta.fields]
