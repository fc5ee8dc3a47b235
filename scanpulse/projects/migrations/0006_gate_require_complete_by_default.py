"""The quality gate requires a complete scan by default.

Before, ``require_complete`` was off unless a team turned it on, and every stored policy that
did not turn it on held ``false``: there was no telling a choice from the old default. Every
stored policy now requires a complete scan; a project that wants incomplete scans to pass turns
it off again (``{"require_complete": false}``). Projects that stored no policy (``{}`` or null)
follow the default, which now requires it too.
"""

from django.db import migrations


def require_complete(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    changed = []
    for project in Project.objects.exclude(gate_policy__isnull=True).only("id", "gate_policy"):
        policy = project.gate_policy
        if isinstance(policy, dict) and policy and policy.get("require_complete") is not True:
            project.gate_policy = {**policy, "require_complete": True}
            changed.append(project)
    Project.objects.bulk_update(changed, ["gate_policy"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_project_credential"),
    ]

    operations = [
        migrations.RunPython(require_complete, migrations.RunPython.noop, elidable=True),
    ]
