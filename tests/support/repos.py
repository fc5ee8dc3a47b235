"""Real git repositories for tests, built in temporary directories."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

# Servers under test take the temporary directory, where tests build their repositories, as
# one local root shared by every organization (the test settings do the same).
LOCAL_ROOTS_ENV = {"SCANPULSE_LOCAL_REPO_ROOTS": os.path.realpath(tempfile.gettempdir())}

VULNERABLE_APP = """import subprocess

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
password = "hunter2"


def run(cmd):
    return subprocess.call(cmd, shell=True)
"""


# Nine lines of nested YAML aliases expand to 9 ** 9 (387 million) values ("billion laughs").
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)

# A real-looking private key and JSON Web Token, as detect-secrets finds them.
PRIVATE_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
-----END RSA PRIVATE KEY-----
"""
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity (no user configuration is needed)."""
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


class GitRepo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def write(self, name: str, content: str | bytes) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        return target

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def make_repo(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    """A real git repository with one commit of ``files``."""
    repo = GitRepo(path, branch)
    for name, content in files.items():
        repo.write(name, content)
    repo.commit("initial")
    return path


def vulnerable_repo(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.write("app.py", VULNERABLE_APP)
    repo.write("requirements.txt", "django==3.2.0\nrequests>=2\n")
    repo.commit("initial")
    return repo


def laughs_repo(path: Path) -> GitRepo:
    """A repository whose YAML bomb sits next to real secrets in ordinary files."""
    repo = GitRepo(path)
    repo.write("deploy/laughs.yaml", BILLION_LAUGHS)
    repo.write("keys/id_rsa", PRIVATE_KEY)
    repo.write("web/auth.js", f'const token = "{JWT}";\n')
    repo.write("README.md", "# web\n")
    repo.commit("initial")
    return repo
