"""Forms of the pages. Input is validated by the API's own serializers, so a page shows exactly
the messages the API returns for the same input; Django fields here only render widgets."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from rest_framework import serializers

from scanpulse.alerts.apis import (
    BulkTriageInputSerializer,
    DismissInputSerializer,
    ReopenInputSerializer,
)
from scanpulse.alerts.models import DismissalReason
from scanpulse.core.exceptions import DomainError
from scanpulse.pipeline.coverage import GATE_SEVERITIES
from scanpulse.projects.apis import ProjectDetailApi, ProjectListApi
from scanpulse.projects.gate import MAX_COUNT, MAX_DAYS
from scanpulse.scans.apis import ScanListApi
from scanpulse.scans.models import FindingStatus, Severity
from scanpulse.tenancy.sso import password_login_refused


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


def _severity_choices(label: str) -> list[tuple[str, str]]:
    return [("", label), *((value, value.capitalize()) for value in GATE_SEVERITIES)]


class GatePolicyForm(forms.Form):
    """A project's quality gate (``projects.gate``), condition by condition; checked by the
    same parser as the API (``project_update``), whose refusal names the condition at fault."""

    no_new_alerts_at_or_above = forms.ChoiceField(
        label="No new alert at or above",
        required=False,
        choices=_severity_choices("Off"),
    )
    no_secrets = forms.BooleanField(label="No secret found (not dismissed)", required=False)
    no_fixable_dependency_alerts_older_than_days = forms.IntegerField(
        label="No dependency alert with a fix known for more than (days; empty: off)",
        required=False,
        min_value=0,
        max_value=MAX_DAYS,
    )
    max_open_alerts_severity = forms.ChoiceField(
        label="Open alerts at or above", required=False, choices=_severity_choices("Off")
    )
    max_open_alerts_count = forms.IntegerField(
        label="… at most (alerts)", required=False, min_value=0, max_value=MAX_COUNT
    )
    require_complete = forms.BooleanField(
        label="The scan is complete (every analyzer ran, every file read)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def of(cls, policy: dict[str, Any]) -> GatePolicyForm:
        open_alerts = policy.get("max_open_alerts") or {}
        return cls(
            initial={
                "no_new_alerts_at_or_above": policy.get("no_new_alerts_at_or_above") or "",
                "no_secrets": bool(policy.get("no_secrets")),
                "no_fixable_dependency_alerts_older_than_days": policy.get(
                    "no_fixable_dependency_alerts_older_than_days"
                ),
                "max_open_alerts_severity": open_alerts.get("severity", ""),
                "max_open_alerts_count": open_alerts.get("count"),
                "require_complete": bool(policy.get("require_complete")),
            }
        )

    def policy(self) -> dict[str, Any]:
        """The whole policy the form describes (every condition named: unset ones off)."""
        data = self.cleaned_data
        severity = data.get("max_open_alerts_severity") or None
        count = data.get("max_open_alerts_count")
        open_alerts: dict[str, Any] | None = None
        if severity or count is not None:
            open_alerts = {"severity": severity, "count": count}
            open_alerts = {key: value for key, value in open_alerts.items() if value is not None}
        return {
            "no_new_alerts_at_or_above": data.get("no_new_alerts_at_or_above") or None,
            "no_secrets": bool(data.get("no_secrets")),
            "no_fixable_dependency_alerts_older_than_days": data.get(
                "no_fixable_dependency_alerts_older_than_days"
            ),
            "max_open_alerts": open_alerts,
            "require_complete": bool(data.get("require_complete")),
        }

    def add_refusal(self, error: DomainError) -> None:
        """The parser's refusal, on the field it names (``gate_policy.<condition>[.part]``)."""
        fields = {
            "gate_policy.max_open_alerts.severity": "max_open_alerts_severity",
            "gate_policy.max_open_alerts.count": "max_open_alerts_count",
            "gate_policy.max_open_alerts": "max_open_alerts_severity",
        }
        for name, messages in (error.fields or {}).items():
            target = fields.get(name, name.removeprefix("gate_policy."))
            for message in messages:
                self.add_error(target if target in self.fields else None, str(message))
        if not error.fields:
            self.add_error(None, error.message)


class ScanStartForm(ApiValidatedForm):
    serializer_class = ScanListApi.InputSerializer

    ref = _text("Ref", maxlength=255, autocomplete="off", spellcheck="false")

    def __init__(self, *args: Any, project_id: Any, default_branch: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_id = project_id
        self.fields["ref"].widget.attrs["placeholder"] = default_branch

    def _alert_ids(self) -> list[str]:
        getlist = getattr(self.data, "getlist", None)
        return list(getlist("alerts")) if getlist is not None else []

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"project": str(self.project_id)}
        if self.cleaned_data.get("ref"):
            data["ref"] = self.cleaned_data["ref"]
        return data


class SarifUploadForm(forms.Form):
    """Another tool's SARIF report for a scan of the project; checked by the upload service
    (``scans.sarif_upload``), whose refusals are shown on these fields."""

    file = forms.FileField(
        label="SARIF report",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".sarif,.json,application/json"}),
    )
    ref = _text(
        "Ref to file the report under", maxlength=255, autocomplete="off", spellcheck="false"
    )
    root = _text(
        "Directory the tool ran in", maxlength=1024, autocomplete="off", spellcheck="false"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("prefix", "sarif")
        super().__init__(*args, **kwargs)
        self.fields["ref"].widget.attrs["placeholder"] = "sarif/<tool>"
        self.fields["root"].widget.attrs["placeholder"] = "only for absolute paths"

    def add_refusal(self, error: DomainError) -> None:
        for name, messages in (error.fields or {}).items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        if not error.fields or error.message not in str(error.fields):
            self.add_error(None, error.message)


class OrganizationSwitchForm(forms.Form):
    organization = forms.UUIDField()
    next = forms.CharField(required=False)


def _choices(label: str, values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *values]


# What the alert list shows first: the open alerts ("all": every state).
ALERT_STATES = [
    ("open", "Open"),
    ("dismissed", "Dismissed"),
    ("fixed", "Fixed"),
    ("excluded", "Excluded by configuration"),
    ("superseded", "Superseded"),
    ("all", "All"),
]


class AlertFilterForm(forms.Form):
    """Filters of a project's alerts (or a scan's findings), from the query string; invalid
    values are ignored. ``severity`` is a minimum, ``path`` a glob (``alerts.selectors``)."""

    severity = forms.ChoiceField(
        required=False,
        label="Severity at least",
        choices=_choices("Any severity", Severity.choices),
    )
    state = forms.ChoiceField(required=False, label="State", choices=ALERT_STATES)
    tool = forms.ChoiceField(required=False, label="Tool")
    rule = forms.CharField(
        required=False, label="Rule", max_length=200, widget=forms.TextInput(attrs={"size": 10})
    )
    path = forms.CharField(
        required=False,
        label="Path",
        max_length=1024,
        widget=forms.TextInput(attrs={"placeholder": "src/*.py", "size": 14}),
    )
    q = forms.CharField(
        required=False, label="Text", max_length=200, widget=forms.TextInput(attrs={"size": 14})
    )
    group = forms.ChoiceField(
        required=False, label="Show", choices=[("", "Each alert"), ("rule", "By rule")]
    )

    def __init__(self, *args: Any, tools: list[str], default_state: str = "open", **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.default_state = default_state
        tool = cast(forms.ChoiceField, self.fields["tool"])
        tool.choices = _choices("Any tool", [(name, name) for name in tools])

    def filters(self) -> dict[str, str | None]:
        """The valid filters (None: not filtered), ``state`` defaulting to open."""
        self.is_valid()  # cleaned_data keeps the valid fields only
        names = ("severity", "tool", "rule", "path", "q")
        chosen: dict[str, str | None] = {
            name: (self.cleaned_data.get(name) or "").strip() or None for name in names
        }
        state = self.cleaned_data.get("state") or self.default_state
        chosen["state"] = None if state == "all" else state
        return chosen

    @property
    def by_rule(self) -> bool:
        return self.data.get("group") == "rule"


class FindingFilterForm(AlertFilterForm):
    """Filters of a scan's findings: those of alerts (every state by default, as the scan
    ended), and the change since the previous scan."""

    status = forms.ChoiceField(
        required=False,
        label="Change",
        choices=_choices("New, unchanged or fixed", FindingStatus.choices),
    )

    def __init__(self, *args: Any, tools: list[str], **kwargs: Any) -> None:
        super().__init__(*args, tools=tools, default_state="all", **kwargs)
        self.order_fields([name for name in self.fields if name != "group"] + ["group"])

    def filters(self) -> dict[str, str | None]:
        chosen = super().filters()
        chosen["min_severity"] = chosen.pop("severity")
        chosen["status"] = self.cleaned_data.get("status") or None
        return chosen


def _datetime_local(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


def _comment() -> forms.CharField:
    return forms.CharField(
        label="Comment",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
    )


class DismissForm(ApiValidatedForm):
    """Dismiss one alert: the API's own validation (an accepted risk needs an expiry)."""

    serializer_class = DismissInputSerializer

    reason = forms.ChoiceField(
        label="Reason", required=False, choices=_choices("Choose a reason", DismissalReason.choices)
    )
    comment = _comment()
    expires_at = _datetime_local("Expires (UTC; required for an accepted risk)")

    def payload(self) -> dict[str, Any]:
        return {
            "reason": self.cleaned_data.get("reason", ""),
            "comment": self.cleaned_data.get("comment", ""),
            "expires_at": self.cleaned_data.get("expires_at") or None,
        }


class ReopenForm(ApiValidatedForm):
    serializer_class = ReopenInputSerializer

    comment = _comment()

    def payload(self) -> dict[str, Any]:
        return {"comment": self.cleaned_data.get("comment", "")}


class BulkTriageForm(ApiValidatedForm):
    """Many alerts of the list (their checkboxes), one action and one reason: the bulk API's
    validation and service, all or none."""

    serializer_class = BulkTriageInputSerializer

    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("dismiss", "Dismiss"), ("reopen", "Reopen")],
    )
    reason = forms.ChoiceField(
        label="Reason", required=False, choices=_choices("Choose a reason", DismissalReason.choices)
    )
    comment = _comment()
    expires_at = _datetime_local("Expires (UTC)")

    def _alert_ids(self) -> list[str]:
        getlist = getattr(self.data, "getlist", None)
        return list(getlist("alerts")) if getlist is not None else []

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alerts": self._alert_ids(),
            "action": self.cleaned_data.get("action", ""),
            "comment": self.cleaned_data.get("comment", ""),
        }
        if data["action"] != "reopen":
            if self.cleaned_data.get("reason"):
                data["reason"] = self.cleaned_data["reason"]
            data["expires_at"] = self.cleaned_data.get("expires_at") or None
        return data

    def add_messages(self, errors: dict[str, Any]) -> None:
        if not self._alert_ids():  # the checkboxes are not a field of the form
            errors = {**errors, "alerts": ["Choose at least one alert."]}
        super().add_messages(errors)


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

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            # Only someone who knows the password learns that their organization uses
            # single sign-on: anyone else gets the usual answer.
            user = (
                get_user_model().objects.filter(username=self.cleaned_data.get("username")).first()
            )
            password = self.cleaned_data.get("password") or ""
            if user is not None and password_login_refused(user) and user.check_password(password):
                raise forms.ValidationError(
                    "Your organization signs in with single sign-on: use “Sign in with SSO”.",
                    code="sso_only",
                ) from None
            raise
