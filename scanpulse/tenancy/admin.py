from django.contrib import admin

from .models import ApiToken, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    readonly_fields = ["last_event_seq", "events_purged_through"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    # A token's scope and expiry are chosen when it is made and shown to its holder then; the
    # administration revokes tokens, it never widens or prolongs one.
    readonly_fields = [
        "prefix",
        "digest",
        "scope",
        "expires_at",
        "created_at",
        "last_used_at",
        "last_used_address",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are created with `scanpulse token create`, which shows them once
