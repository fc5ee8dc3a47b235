"""``scanpulse scan --server … --base main`` from a pull request's CI job: the scan is created
with the base, compared with the base's latest completed scan, and the output says how many
findings are new in the pull request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.support import VULNERABLE_APP, SeededServer, clean_env, run_cli, seed_store
from tests.support.repos import GitRepo

pytestmark = pytest.mark.slow

SHELL_CALL = "import os\n\n\ndef run(cmd):\n    return os.system(cmd)\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    seed = seed_store(tmp_path_factory.mktemp("seed"))
    started = SeededServer(tmp_path_factory.mktemp("server"), seed)
    yield started
    started.stop()


def test_base_compares_a_branch_with_main_as_a_pull_request(server, tmp_path: Path) -> None:
    # given: main scanned on the server, and a branch adding a vulnerable file
    env = server.client_env(tmp_path / "home")
    repo = GitRepo(tmp_path / "shop")
    repo.write("app.py", SHELL_CALL)
    repo.commit("start")
    on_main = run_cli(env, "scan", str(repo.path), "--ref", "main", "--no-progress")
    assert on_main.returncode == 0, on_main.stderr
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("helper.py", VULNERABLE_APP)
    repo.commit("helper")

    # when: CI scans the branch with --base main
    result = run_cli(env, "scan", str(repo.path), "--base", "main", "--json", "--no-progress")

    # then: the scan is the branch's, compared with main; its new findings are the helper's
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    scan = document["scan"]
    assert (scan["ref"], scan["base_ref"], scan["compared_with_ref"]) == ("feature", "main", "main")
    introduced = [f for f in document["findings"] if f["path"] == "helper.py"]
    assert introduced
    assert scan["new_in_pull_request"] == len(introduced)
    assert [f for f in document["findings"] if f["status"] == "new"] == introduced

    # when: shown as text
    plain = run_cli(env, "scan", str(repo.path), "--base", "main", "--no-progress")

    # then: the summary says it in words
    assert plain.returncode == 0, plain.stderr
    assert f"{len(introduced)} new in this pull request (compared with main)" in plain.stdout


def test_base_needs_a_server(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "x = 1\n")
    repo.commit("start")

    result = run_cli(clean_env(tmp_path / "home"), "scan", str(repo.path), "--base", "main")

    assert result.returncode == 2
    assert "--base compares with the branch's scans on a server" in result.stderr
