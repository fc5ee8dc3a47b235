from django.contrib import admin

from .models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "repo_url", "default_branch", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "repo_url"]
