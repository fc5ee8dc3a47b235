"""Reading what a repository host's webhook says, in the hosts' published formats: GitHub
(``push``, ``pull_request``, ``ping``), GitLab (``Push Hook``, ``Merge Request Hook``) and
Gitea/Forgejo (``push``, ``pull_request``).

Each parser turns a verified delivery into one ``HookEvent``: a commit to scan (a push's
``after`` on its branch, a pull request's head against its target branch), or a reason why
nothing is scanned. A payload that is not what the host sends is ``MalformedPayload``.
Plain functions, no database: the services decide what happens next.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Host(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"

    @property
    def label(self) -> str:
        return {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea/Forgejo"}[self.value]


class Kind(StrEnum):
    PUSH = "push"
    PULL_REQUEST = "pull_request"
    PING = "ping"
    IGNORED = "ignored"


class MalformedPayload(ValueError):
    """The body is not a payload of the event its headers name."""


ZERO_SHA = re.compile(r"^0+$")
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
BRANCH_PREFIX = "refs/heads/"
# The pull request actions that bring code to scan: opened, new commits, reopened.
GITHUB_PR_ACTIONS = {"opened", "synchronize", "reopened"}
GITEA_PR_ACTIONS = {"opened", "synchronize", "synchronized", "reopened"}
GITLAB_MR_ACTIONS = {"open", "update", "reopen"}


@dataclass(frozen=True, slots=True)
class HookEvent:
    """What a delivery asks for. ``kind`` IGNORED (or PING) carries only ``reason``."""

    kind: Kind
    event: str  # the event as the host names it ("push", "Merge Request Hook", …)
    reason: str = ""
    repository_urls: tuple[str, ...] = ()
    repository_name: str = ""
    ref: str = ""  # the ref the scan is of: the branch, or the pull request's head ref
    commit: str = ""
    base_ref: str = ""  # a pull request's target branch
    pull_request: dict[str, Any] | None = field(default=None)


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object of the body: sent as ``application/json``, or form-encoded with the JSON
    in ``payload`` (GitHub's and Gitea's other content type)."""
    text: str | bytes = body
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedPayload("The form-encoded body could not be read.") from exc
        values = form.get("payload")
        if not values:
            raise MalformedPayload("The form-encoded body has no 'payload' field.")
        text = values[0]
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload("The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("The body is not a JSON object.")
    return data


def _object(data: Any, name: str) -> dict[str, Any]:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise MalformedPayload(f"The payload has no '{name}' object.")
    return value


def _text(data: dict[str, Any], name: str, *, where: str = "") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        place = f"{where}." if where else ""
        raise MalformedPayload(f"The payload has no '{place}{name}' text.")
    return value


def _sha(value: str, *, name: str) -> str:
    value = value.lower()
    if not SHA.match(value):
        raise MalformedPayload(f"'{name}' is not a commit hash.")
    return value


def _web_url(value: Any) -> str:
    """A link to show (the pull request's page): http(s) only, anything else dropped."""
    text = str(value or "")[:500]
    return text if text.startswith(("https://", "http://")) else ""


def _urls(repository: dict[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    urls = tuple(
        value for name in names if isinstance(value := repository.get(name), str) and value
    )
    if not urls:
        raise MalformedPayload("The payload names no repository URL.")
    return urls


def _branch(ref: str) -> str | None:
    """The branch of a pushed ``refs/heads/…`` ref; None for tags and other refs."""
    return ref[len(BRANCH_PREFIX) :] if ref.startswith(BRANCH_PREFIX) else None


def _push(
    data: dict[str, Any], *, event: str, urls: tuple[str, ...], name: str, after_key: str = "after"
) -> HookEvent:
    ref = _text(data, "ref")
    after = _text(data, after_key)
    if ZERO_SHA.match(after) or data.get("deleted") is True:
        return HookEvent(Kind.IGNORED, event, reason=f"the branch {ref} was deleted")
    branch = _branch(ref)
    if branch is None:
        return HookEvent(
            Kind.IGNORED, event, reason=f"{ref} is not a branch (tags are not scanned)"
        )
    return HookEvent(
        Kind.PUSH,
        event,
        repository_urls=urls,
        repository_name=name,
        ref=branch,
        commit=_sha(after, name=after_key),
    )


_GITHUB_URLS = ("clone_url", "ssh_url", "html_url", "git_url", "svn_url")


def parse_github(event: str, data: dict[str, Any]) -> HookEvent:
    if event == "ping":
        return HookEvent(Kind.PING, event, reason="ping: the webhook reaches scanpulse")
    if event not in ("push", "pull_request"):
        return HookEvent(
            Kind.IGNORED, event, reason=f"the event '{event}' is not scanned (push, pull_request)"
        )
    repository = _object(data, "repository")
    urls = _urls(repository, _GITHUB_URLS)
    name = str(repository.get("full_name") or repository.get("name") or "")
    if event == "push":
        return _push(data, event=event, urls=urls, name=name)
    return _pull_request(
        data, event=event, urls=urls, name=name, actions=GITHUB_PR_ACTIONS, host=Host.GITHUB
    )


def _pull_request(
    data: dict[str, Any],
    *,
    event: str,
    urls: tuple[str, ...],
    name: str,
    actions: set[str],
    host: Host,
) -> HookEvent:
    action = _text(data, "action")
    pull = _object(data, "pull_request")
    number = pull.get("number", data.get("number"))
    if not isinstance(number, int) or number <= 0:
        raise MalformedPayload("The payload has no pull request number.")
    if action not in actions:
        return HookEvent(
            Kind.IGNORED,
            event,
            reason=f"pull request #{number} was {action}: only opened, new commits and "
            "reopened pull requests are scanned",
        )
    head = _object(pull, "head")
    base = _object(pull, "base")
    return HookEvent(
        Kind.PULL_REQUEST,
        event,
        repository_urls=urls,
        repository_name=name,
        ref=f"refs/pull/{number}/head",
        commit=_sha(_text(head, "sha", where="pull_request.head"), name="pull_request.head.sha"),
        base_ref=_text(base, "ref", where="pull_request.base"),
        pull_request={
            "host": host.value,
            "number": number,
            "title": str(pull.get("title") or "")[:300],
            "url": _web_url(pull.get("html_url")),
            "source_branch": str(head.get("ref") or "")[:255],
            "target_branch": _text(base, "ref", where="pull_request.base"),
        },
    )


_GITEA_URLS = ("clone_url", "ssh_url", "html_url")


def parse_gitea(event: str, data: dict[str, Any]) -> HookEvent:
    if event not in ("push", "pull_request"):
        return HookEvent(
            Kind.IGNORED, event, reason=f"the event '{event}' is not scanned (push, pull_request)"
        )
    repository = _object(data, "repository")
    urls = _urls(repository, _GITEA_URLS)
    name = str(repository.get("full_name") or repository.get("name") or "")
    if event == "push":
        return _push(data, event=event, urls=urls, name=name)
    return _pull_request(
        data, event=event, urls=urls, name=name, actions=GITEA_PR_ACTIONS, host=Host.GITEA
    )


_GITLAB_PROJECT_URLS = ("git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url")


def parse_gitlab(event: str, data: dict[str, Any]) -> HookEvent:
    if event not in ("Push Hook", "Merge Request Hook"):
        return HookEvent(
            Kind.IGNORED,
            event,
            reason=f"the event '{event}' is not scanned (Push Hook, Merge Request Hook)",
        )
    project = _object(data, "project")
    urls = _urls(project, _GITLAB_PROJECT_URLS)
    name = str(project.get("path_with_namespace") or project.get("name") or "")
    if event == "Push Hook":
        return _push(data, event=event, urls=urls, name=name)
    attributes = _object(data, "object_attributes")
    iid = attributes.get("iid")
    if not isinstance(iid, int) or iid <= 0:
        raise MalformedPayload("The payload has no merge request iid.")
    action = str(attributes.get("action") or "")
    if action not in GITLAB_MR_ACTIONS:
        return HookEvent(
            Kind.IGNORED,
            event,
            reason=f"merge request !{iid} was {action or 'changed'}: only opened, updated and "
            "reopened merge requests are scanned",
        )
    last_commit = _object(attributes, "last_commit")
    target = _text(attributes, "target_branch", where="object_attributes")
    return HookEvent(
        Kind.PULL_REQUEST,
        event,
        repository_urls=urls,
        repository_name=name,
        ref=f"refs/merge-requests/{iid}/head",
        commit=_sha(
            _text(last_commit, "id", where="object_attributes.last_commit"),
            name="object_attributes.last_commit.id",
        ),
        base_ref=target,
        pull_request={
            "host": Host.GITLAB.value,
            "number": iid,
            "title": str(attributes.get("title") or "")[:300],
            "url": _web_url(attributes.get("url")),
            "source_branch": str(attributes.get("source_branch") or "")[:255],
            "target_branch": target,
        },
    )


def parse(host: Host, event: str, data: dict[str, Any]) -> HookEvent:
    parser = {Host.GITHUB: parse_github, Host.GITLAB: parse_gitlab, Host.GITEA: parse_gitea}[host]
    return parser(event, data)


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.*)$")


def normalize_repository_url(value: str) -> str:
    """A repository location reduced to what names it, so that every URL of one repository
    compares equal: no scheme, user or port, the host in lower case, no trailing ``/`` or
    ``.git``. ``https://github.com/Acme/App.git``, ``git@github.com:acme/app.git`` and
    ``ssh://git@github.com:22/acme/app`` all become ``github.com/acme/app``; a local path
    stays a path."""
    value = value.strip()
    if "://" in value:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        path = parts.path
    elif (match := _SCP_LIKE.match(value)) and not value.startswith("/"):
        host, path = match.group(1).lower(), match.group(2)
    else:
        host, path = "", value
    path = path.rstrip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    path = path.rstrip("/")
    if host:
        # Hosts compare paths without regard to case (github.com/Acme/App is acme/app).
        return f"{host}/{path.lstrip('/').lower()}"
    return path
