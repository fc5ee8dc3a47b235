"""``scanpulse serve --demo``: an organization, a user, a sample repository with known problems,
advisories for its pins and one scan of it, so a first run shows the whole product working.

A restart reuses all of it: the same organization, user and project, and no second scan (the
user starts the next one from the project's page, and watches it run live).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from scanpulse.advisories.store import active_dataset, sync_advisories
from scanpulse.projects.models import Project
from scanpulse.projects.validation import local_policy
from scanpulse.scans.models import Scan
from scanpulse.scans.services import scan_create
from scanpulse.tenancy.models import Organization, Role
from scanpulse.tenancy.services import organization_create, token_create, user_create
from scanpulse.tenancy.types import User

DEMO_ORG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PROJECT = "demo-service"
# A few PyPA advisories for the sample's own pins, with their attribution (README.md there).
DEMO_ADVISORIES = Path(__file__).with_name("demo_advisories")
DEMO_ADVISORIES_SOURCE = "scanpulse demo excerpt of the PyPA Advisory Database (CC-BY 4.0)"

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
    """Create what is missing (nothing is started here); yields lines to show the user."""
    organization = Organization.objects.filter(name=DEMO_ORG).first()
    if organization is None:
        organization = organization_create(name=DEMO_ORG)
    user: User | None = User.objects.filter(username=DEMO_EMAIL).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_create(
            email=DEMO_EMAIL, organization=organization, role=Role.OWNER, password=password
        )
        _, token = token_create(user=user, name="demo")
        yield f"Demo login: {DEMO_EMAIL} / {password}   (shown once)"
        yield f"Demo API token: {token}   (shown once)"
    else:
        yield (
            f"Demo login: {DEMO_EMAIL} (password shown at the first start; set a new one with "
            f"`scanpulse user set-password {DEMO_EMAIL}`)"
        )
    if active_dataset() is None:
        # Never over data the operator loaded: this excerpt only fills an empty database.
        report = sync_advisories(DEMO_ADVISORIES, source=DEMO_ADVISORIES_SOURCE)
        yield (
            f"Loaded {report.records} advisories for the demo's pins ({DEMO_ADVISORIES_SOURCE}); "
            "load the full database with `scanpulse advisories sync`."
        )
    roots = local_policy(organization=organization).roots
    if not settings.SCANPULSE_ALLOW_LOCAL_REPOS or not roots:
        yield "Local repositories are disabled here, so no demo project was created."
        return
    # In the demo organization's own directory, where its local repositories must lie.
    repository = sample_repository(roots[0] / DEMO_PROJECT)
    Project.objects.update_or_create(
        organization=organization,
        name=DEMO_PROJECT,
        defaults={"repo_url": str(repository)},  # earlier versions kept it elsewhere
        create_defaults={"repo_url": str(repository), "default_branch": "main", "created_by": user},
    )


def start_demo_scan() -> Iterator[str]:
    """Scan the demo project the first time only (called once the server listens); yields
    lines to show the user."""
    project = Project.objects.filter(organization__name=DEMO_ORG, name=DEMO_PROJECT).first()
    user = get_user_model().objects.filter(username=DEMO_EMAIL).first()
    if project is None or user is None or Scan.objects.filter(project=project).exists():
        return
    scan = scan_create(user=user, project=project)
    yield f"Started a first scan of {DEMO_PROJECT} ({scan.id})."


def demo_hint(*, url: str) -> str | None:
    """What to do next, once the server listens (nothing without a demo project)."""
    if not Project.objects.filter(organization__name=DEMO_ORG, name=DEMO_PROJECT).exists():
        return None
    return (
        f"Sign in at {url} and press Start scan on {DEMO_PROJECT}'s page to watch a scan run live."
    )
