"""Reading the hosts' recorded payloads, and naming one repository by any of its URLs."""

from __future__ import annotations

import pytest

from scanpulse.integrations.parsers import (
    Host,
    Kind,
    MalformedPayload,
    decode_body,
    normalize_repository_url,
    parse,
)
from tests.integrations.conftest import payload


def test_a_github_push_is_its_after_commit_on_its_branch() -> None:
    hook = parse(Host.GITHUB, "push", payload("github-push"))

    assert (hook.kind, hook.ref, hook.commit) == (
        Kind.PUSH,
        "main",
        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    )
    assert "https://github.com/Octo-Org/hello-app.git" in hook.repository_urls
    assert hook.pull_request is None and hook.base_ref == ""


def test_a_github_pull_request_is_its_head_against_its_target() -> None:
    hook = parse(Host.GITHUB, "pull_request", payload("github-pull_request-opened"))

    assert (hook.kind, hook.ref, hook.commit, hook.base_ref) == (
        Kind.PULL_REQUEST,
        "refs/pull/2/head",
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "main",
    )
    assert hook.pull_request == {
        "host": "github",
        "number": 2,
        "title": "Add a shell helper",
        "url": "https://github.com/Octo-Org/hello-app/pull/2",
        "source_branch": "feature",
        "target_branch": "main",
    }


def test_gitlab_pushes_and_merge_requests() -> None:
    push = parse(Host.GITLAB, "Push Hook", payload("gitlab-push"))
    merge = parse(Host.GITLAB, "Merge Request Hook", payload("gitlab-merge_request-open"))

    assert (push.kind, push.ref, push.commit) == (
        Kind.PUSH,
        "main",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )
    assert "git@gitlab.example.com:mike/diaspora.git" in push.repository_urls
    assert (merge.kind, merge.ref, merge.base_ref) == (
        Kind.PULL_REQUEST,
        "refs/merge-requests/1/head",
        "main",
    )
    assert merge.pull_request is not None and merge.pull_request["source_branch"] == "ms-viewport"


def test_gitea_pushes_and_synchronized_pull_requests() -> None:
    push = parse(Host.GITEA, "push", payload("gitea-push"))
    pull = parse(Host.GITEA, "pull_request", payload("gitea-pull_request-synchronized"))

    assert (push.kind, push.ref) == (Kind.PUSH, "develop")
    assert (pull.kind, pull.ref, pull.commit, pull.base_ref) == (
        Kind.PULL_REQUEST,
        "refs/pull/7/head",
        "c0ffee4224043ba2feb48d137756c8a9331c449a",
        "master",
    )


def test_deleted_branches_tags_closed_pull_requests_and_other_events_are_ignored() -> None:
    deleted = payload("github-push") | {"after": "0" * 40, "deleted": True}
    tag = payload("github-push") | {"ref": "refs/tags/v1.0"}
    closed = payload("github-pull_request-opened") | {"action": "closed"}
    merged = payload("gitlab-merge_request-open")
    merged["object_attributes"]["action"] = "merge"

    assert parse(Host.GITHUB, "push", deleted).reason == "the branch refs/heads/main was deleted"
    assert parse(Host.GITHUB, "push", tag).kind == Kind.IGNORED
    assert "closed" in parse(Host.GITHUB, "pull_request", closed).reason
    assert parse(Host.GITLAB, "Merge Request Hook", merged).kind == Kind.IGNORED
    assert parse(Host.GITHUB, "issues", {}).reason == (
        "the event 'issues' is not scanned (push, pull_request)"
    )
    assert parse(Host.GITHUB, "ping", payload("github-ping")).kind == Kind.PING


def test_payloads_that_are_not_the_hosts_are_malformed() -> None:
    without_repository = {
        key: v for key, v in payload("github-push").items() if key != "repository"
    }
    bad_sha = payload("github-push") | {"after": "not-a-sha"}

    with pytest.raises(MalformedPayload, match="no 'repository' object"):
        parse(Host.GITHUB, "push", without_repository)
    with pytest.raises(MalformedPayload, match="not a commit hash"):
        parse(Host.GITHUB, "push", bad_sha)
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        decode_body(b"{nope", "application/json")
    with pytest.raises(MalformedPayload, match="not a JSON object"):
        decode_body(b"[1]", "application/json")
    form = decode_body(b"payload=%7B%22a%22%3A1%7D", "application/x-www-form-urlencoded")
    assert form == {"a": 1}


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/hello-app.git",
        "https://github.com/octo-org/hello-app",
        "https://user@GitHub.com/Octo-Org/hello-app/",
        "git@github.com:Octo-Org/hello-app.git",
        "ssh://git@github.com:22/Octo-Org/hello-app.git",
        "git://github.com/Octo-Org/hello-app.git",
    ],
)
def test_every_url_of_a_repository_names_it_alike(url: str) -> None:
    assert normalize_repository_url(url) == "github.com/octo-org/hello-app"


def test_different_repositories_and_local_paths_stay_apart() -> None:
    assert normalize_repository_url("https://github.com/octo-org/hello-app-2") != (
        normalize_repository_url("https://github.com/octo-org/hello-app")
    )
    assert normalize_repository_url("https://gitlab.com/octo-org/hello-app") != (
        normalize_repository_url("https://github.com/octo-org/hello-app")
    )
    assert normalize_repository_url("/srv/git/app.git") == "/srv/git/app"
    assert normalize_repository_url("file:///srv/git/app") == "/srv/git/app"
