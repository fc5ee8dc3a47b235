"""Pages of one's own account that need no organization: resetting a forgotten password and
accepting an invitation. Kept apart from the login page's own views.

A reset request answers the same page whatever the email (known, unknown, without a password),
so the form tells nobody who has an account; requests are rate-limited per address and per
email asked about. Reset links are Django's (``PasswordResetTokenGenerator``): they expire
after ``PASSWORD_RESET_TIMEOUT`` and are single use, since the token covers the password hash.
"""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods

from scanpulse.audit.context import request_address
from scanpulse.audit.services import AuditAction, record
from scanpulse.core.exceptions import Conflict, Invalid, NotFound
from scanpulse.core.throttling import configured_rate, hit
from scanpulse.tenancy.members import invitation_accept, invitation_find

from .organizations import SESSION_KEY
from .pages import render_page


def _reset_wait(request: HttpRequest, email: str) -> float | None:
    rate = configured_rate("password_reset")
    if rate is None:
        return None
    waits = [
        hit("password_reset_address", request_address(request) or "unknown", rate),
        hit("password_reset_email", email.strip().lower(), rate),
    ]
    known = [wait for wait in waits if wait is not None]
    return max(known) if known else None


class ResetForm(PasswordResetForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(
            {"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"}
        )


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "web/password_reset_form.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("web:password-reset-sent")
    form_class = ResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        wait = _reset_wait(self.request, form.cleaned_data["email"])
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            context = self.get_context_data(form=form)
            context["refusal"] = (
                f"Too many reset requests. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}."
            )
            response = render_page(self.request, self.template_name, context, status=429)
            response["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        return super().form_valid(form)


class NewPasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("web:password-reset-complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        organizations = list(user.memberships.values_list("organization_id", flat=True))
        for organization_id in organizations or [None]:
            record(
                action=AuditAction.PASSWORD_RESET,
                actor=user,
                organization_id=organization_id,
                target_type="user",
                target_id=user.pk,
                target=user.email,
            )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset_complete.html"


class NewAccountForm(forms.Form):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, secret: str) -> HttpResponse:
    """Accept an invitation: signed in, as that account (its email must be the invited one);
    otherwise by creating the invited email's account with a password, or by signing in first
    when it exists."""
    try:
        found = invitation_find(secret=secret)
    except NotFound as error:
        response = render_page(
            request, "web/invitation.html", {"invalid": error.message}, status=404
        )
        response["Cache-Control"] = "no-store"
        return response
    signed_in = request.user.is_authenticated
    context: dict[str, Any] = {
        "invitation": found,
        "exists": get_user_model().objects.filter(username=found.email).exists(),
        "form": NewAccountForm(),
        "login_url": f"{reverse('web:login')}?next={request.path}",
    }
    if signed_in and request.user.email.lower() != found.email:  # type: ignore[union-attr]
        context["other_account"] = True
    elif request.method == "POST":
        try:
            if signed_in:
                invitation_accept(secret=secret, user=request.user)  # type: ignore[arg-type]
            else:
                form = NewAccountForm(request.POST)
                context["form"] = form
                if form.is_valid():
                    _, user = invitation_accept(
                        secret=secret, password=form.cleaned_data["password1"]
                    )
                    login(request, user, backend="scanpulse.tenancy.sso.PasswordBackend")
                else:
                    raise Invalid("Check the form.")
        except (Invalid, Conflict) as error:
            if isinstance(error, Invalid) and error.fields:
                for field, messages in error.fields.items():
                    target = "password1" if field == "password" else None
                    for message in messages:
                        context["form"].add_error(target, message)
            elif not context["form"].errors:
                context["refusal"] = error.message
        else:
            request.session[SESSION_KEY] = str(found.organization_id)
            return HttpResponseRedirect(
                reverse("web:organization-settings", args=[found.organization_id])
            )
    response = render_page(request, "web/invitation.html", context)
    response["Cache-Control"] = "no-store"
    return response
