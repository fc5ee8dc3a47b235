"""Forms of the pages. Input is validated by the API's own serializers, so a page shows exactly
the messages the API returns for the same input; Django fields here only render widgets."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from rest_framework import serializers

from scanpulse.core.exceptions import DomainError
from scanpulse.projects.apis import ProjectDetailApi, ProjectListApi
from scanpulse.scans.apis import ScanListApi
from scanpulse.scans.models import FindingStatus, Severity


def _text(label: str, **attrs: Any) -> forms.CharField:
    # No Django-side validation (required, max_length): the serializer owns every message.
    return forms.CharField(
        label=label, required=False, strip=False, widget=forms.TextInput(attrs=attrs)
    )


class ApiValidatedForm(forms.Form):
    serializer_class: type[serializers.Serializer]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.validated: dict[str, Any] = {}

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        serializer = self.serializer_class(data=self.payload())
        if serializer.is_valid():
            self.validated = dict(serializer.validated_data)
        else:
            self.add_messages(serializer.errors)
        return cleaned

    def add_messages(self, errors: dict[str, Any]) -> None:
        for name, messages in errors.items():
            target = name if name in self.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(target, str(message))

    def add_refusal(self, error: DomainError) -> None:
        """A refusal from a service (e.g. a duplicate name), shown like a validation error."""
        if error.fields:
            self.add_messages(error.fields)
        else:
            self.add_error(None, error.message)


class ProjectForm(ApiValidatedForm):
    serializer_class = ProjectListApi.InputSerializer

    name = _text("Name", required=True, maxlength=100, autocomplete="off")
    repo_url = _text(
        "Repository",
        required=True,
        maxlength=2048,
        autocomplete="off",
        spellcheck="false",
        placeholder="https://github.com/org/repo.git or /srv/git/repo",
    )
    default_branch = _text(
        "Default branch", maxlength=255, autocomplete="off", spellcheck="false", placeholder="main"
    )

    def payload(self) -> dict[str, Any]:
        data = {
            "name": self.cleaned_data.get("name", ""),
            "repo_url": self.cleaned_data.get("repo_url", ""),
        }
        if self.cleaned_data.get("default_branch"):
            data["default_branch"] = self.cleaned_data["default_branch"]
        return data


class ScanConfigForm(ApiValidatedForm):
    """A project's default scan configuration (``.scanpulse.toml`` format)."""

    serializer_class = ProjectDetailApi.UpdateSerializer
    scan_config = forms.CharField(
        label="Default configuration",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )

    def payload(self) -> dict[str, Any]:
        return {"scan_config": self.data.get("scan_config", "")}


class ScanStartForm(ApiValidatedForm):
    serializer_class = ScanListApi.InputSerializer

    ref = _text("Ref", maxlength=255, autocomplete="off", spellcheck="false")

    def __init__(self, *args: Any, project_id: Any, default_branch: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_id = project_id
        self.fields["ref"].widget.attrs["placeholder"] = default_branch

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"project": str(self.project_id)}
        if self.cleaned_data.get("ref"):
            data["ref"] = self.cleaned_data["ref"]
        return data


class OrganizationSwitchForm(forms.Form):
    organization = forms.UUIDField()
    next = forms.CharField(required=False)


def _choices(label: str, values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *values]


class FindingFilterForm(forms.Form):
    """Filters of a scan's findings table, from the query string; invalid values are ignored."""

    severity = forms.ChoiceField(
        required=False, label="Severity", choices=_choices("Any severity", Severity.choices)
    )
    tool = forms.ChoiceField(required=False, label="Tool")
    status = forms.ChoiceField(
        required=False,
        label="Change",
        choices=_choices("New, unchanged or fixed", FindingStatus.choices),
    )

    def __init__(self, *args: Any, tools: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        tool = cast(forms.ChoiceField, self.fields["tool"])
        tool.choices = _choices("Any tool", [(name, name) for name in tools])

    def filters(self) -> dict[str, str | None]:
        self.is_valid()  # cleaned_data keeps the valid fields only
        return {
            name: self.cleaned_data.get(name) or None for name in ("severity", "tool", "status")
        }


class LoginForm(AuthenticationForm):
    """Sign in with the email address an account was created with (stored in lower case)."""

    # Django's own message names the model's field ("username"); the form asks for an email.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct email and password. The password is "
        "case-sensitive.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"}
        )

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username", "")).strip().lower()
