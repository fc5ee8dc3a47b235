"""``scanpulse serve --demo``: an organization, a user, a sample repository and a live scan,
so a first run shows the whole product working."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from scanpulse.projects.models import Project
from scanpulse.projects.validation import local_policy
from scanpulse.scans.services import scan_create
from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import organization_create, token_create, user_create

DEMO_ORG = "demo"
DEMO_EMAIL = "demo@example.com"

SAMPLE_FILES = {
    "app/handlers.py": '''"""A small service with the kinds of mistakes scanners exist for."""

import pickle
import subprocess

import yaml

DATABASE_PASSWORD = "s3cr3t-but-committed"


def run_report(name):
    return subprocess.call("report --name " + name, shell=True)


def load_session(blob):
    return pickle.loads(blob)


def read_config(text):
    return yaml.load(text)
''',
    "app/settings.py": """AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DEBUG = True
""",
    "requirements.txt": "django==3.2.0\npyyaml==5.1\njinja2==2.10\nrequests>=2.20\n",
    "README.md": "# demo service\n\nA sample repository created by `scanpulse serve --demo`.\n",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=scanpulse demo", "-c", "user.email=demo@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def sample_repository(path: Path) -> Path:
    if (path / ".git").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    for name, content in SAMPLE_FILES.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    _git(path, "init", "--quiet", "--initial-branch=main")
    _git(path, "add", "-A")
    _git(path, "commit", "--quiet", "-m", "Sample service")
    return path


def seed_demo() -> Iterator[str]:
    """Create what is missing and start a scan; yields lines to show the user."""
    organization = Organization.objects.filter(name=DEMO_ORG).first()
    if organization is None:
        organization = organization_create(name=DEMO_ORG)
    user: Any = get_user_model().objects.filter(username=DEMO_EMAIL).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_create(
            email=DEMO_EMAIL, organization=organization, role=Role.OWNER, password=password
        )
        _, token = token_create(user=user, name="demo")
        yield f"Demo login: {DEMO_EMAIL} / {password}   (shown once)"
        yield f"Demo API token: {token}   (shown once)"
    else:
        yield f"Demo login: {DEMO_EMAIL} (password shown at the first start)"
    roots = local_policy(organization=organization).roots
    if not settings.SCANPULSE_ALLOW_LOCAL_REPOS or not roots:
        yield "Local repositories are disabled here, so no demo project was created."
        return
    # In the demo organization's own directory, where its local repositories must lie.
    repository = sample_repository(roots[0] / "demo-service")
    project, _ = Project.objects.update_or_create(
        organization=organization,
        name="demo-service",
        defaults={"repo_url": str(repository)},  # earlier versions kept it elsewhere
        create_defaults={"repo_url": str(repository), "created_by": user},
    )
    scan = scan_create(user=user, project=project)
    yield f"Started demo scan {scan.id} of {repository}"
