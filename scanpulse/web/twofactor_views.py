"""Two-factor pages: the second step of a password sign-in, and the account's two-factor
settings (enrolment with a QR code, recovery codes shown once and replaced on request, turning
it off)."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from scanpulse.core.exceptions import Invalid, QuotaExceeded
from scanpulse.tenancy import twofactor

_PENDING = "two_factor_pending"
# How long the second step may wait after the password was right.
_PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    """Django's sign-in; an account with two-factor on is asked for a code before it is
    signed in (the password alone signs nobody in)."""

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not twofactor.enabled_for(user):
            return super().form_valid(form)
        self.request.session[_PENDING] = {
            "user": str(user.pk),
            "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
            "next": self.get_redirect_url(),
            "since": time.time(),
        }
        return HttpResponseRedirect(reverse("web:login-two-factor"))


def _pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("since", 0) > _PENDING_SECONDS:
        request.session.pop(_PENDING, None)
        return None
    user = auth.get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user is not None else None


@require_http_methods(["GET", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponse:
    found = _pending_user(request)
    if found is None:
        messages.info(request, "Sign in again: the code step waits 5 minutes at most.")
        return redirect("web:login")
    user, pending = found
    error = ""
    status = 200
    if request.method == "POST":
        try:
            used_recovery = twofactor.verify(user=user, code=request.POST.get("code", ""))
        except QuotaExceeded as exc:
            response = render(
                request, "web/login_two_factor.html", {"error": exc.message}, status=429
            )
            response["Retry-After"] = str(math.ceil(exc.retry_after or 60))
            return response
        except Invalid as exc:
            error, status = exc.message, 400
        else:
            del request.session[_PENDING]
            auth.login(request, user, backend=pending["backend"])
            if used_recovery:
                left = twofactor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. Each works once.",
                )
            target = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                target = reverse(settings.LOGIN_REDIRECT_URL)
            return HttpResponseRedirect(target)
    return render(request, "web/login_two_factor.html", {"error": error}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"error": ""}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        code = request.POST.get("code", "")
        try:
            if action == "confirm":
                codes = twofactor.enrolment_confirm(user=user, code=code)  # type: ignore[arg-type]
                return render(request, "web/two_factor.html", {"recovery_codes": codes})
            if action == "regenerate":
                codes = twofactor.recovery_codes_regenerate(user=user, code=code)  # type: ignore[arg-type]
                context = {"recovery_codes": codes, "regenerated": True}
                return render(request, "web/two_factor.html", context)
            if action == "disable":
                twofactor.disable(user=user, code=code)  # type: ignore[arg-type]
                messages.success(request, "Two-factor is off.")
                return redirect("web:two-factor")
        except QuotaExceeded as exc:
            context["error"], status = exc.message, 429
        except Invalid as exc:
            context["error"], status = exc.message, 400
    if twofactor.enabled_for(user):  # type: ignore[arg-type]
        context["enabled"] = True
        context["codes_left"] = twofactor.recovery_codes_left(user)  # type: ignore[arg-type]
    elif twofactor.can_enrol(user):  # type: ignore[arg-type]
        context["enrolment"] = twofactor.enrolment_start(user=user)  # type: ignore[arg-type]
    return render(request, "web/two_factor.html", context, status=status)
