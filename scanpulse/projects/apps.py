from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "scanpulse.projects"
    label = "projects"
