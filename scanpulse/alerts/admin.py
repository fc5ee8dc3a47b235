from django.contrib import admin

from .models import Alert, Dismissal, TriageAction


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["rule_id", "tool", "severity", "state", "path", "start_line", "ref", "project"]
    list_filter = ["tool", "severity", "state"]
    search_fields = ["rule_id", "path", "fingerprint"]
    readonly_fields = [field.name for field in Alert._meta.fields]


@admin.register(Dismissal)
class DismissalAdmin(admin.ModelAdmin):
    list_display = ["fingerprint", "reason", "expires_at", "dismissed_by", "project"]
    list_filter = ["reason"]


@admin.register(TriageAction)
class TriageActionAdmin(admin.ModelAdmin):
    list_display = ["fingerprint", "action", "reason", "user_email", "created_at", "project"]
    readonly_fields = [field.name for field in TriageAction._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
