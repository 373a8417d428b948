"""Sign-in with throttling, and sign-out, on Django's auth views with our templates."""

from __future__ import annotations

import math
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from touchflow.stores.models import Staff
from touchflow.web import throttle


class ThrottleMixin:
    """Refuses to even check the password while the username or address is locked out.

    Mixed into our sign-in form and the Django admin's, so both count the same failures.
    """

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    throttled = False

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = throttle.client_address(self.request) if self.request else "unknown"
        attempt = throttle.begin(username, address)
        if attempt.locked_for is not None:
            self.throttled = True
            minutes = max(1, math.ceil(attempt.locked_for.total_seconds() / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
                    "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
                    minutes,
                ) % {"minutes": minutes},
                code="throttled",
            )
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        # A wrong password (or a disabled account, or a non-staff one at the admin) has
        # raised above and stays counted; an empty field never reached the check.
        if self.get_user() is None:  # type: ignore[attr-defined]
            throttle.not_checked(attempt)
        else:
            throttle.succeeded(attempt)
        return cleaned


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Wrong username or password."),
        "inactive": _("This account is disabled."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        """A manager's first page is the dashboard; a salesperson's the counter."""
        user = self.request.user
        if isinstance(user, Staff) and user.is_manager:
            return reverse("web:dashboard")
        return super().get_default_redirect_url()

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        # 429 tells scripts (and tests) that this was the lock, not a wrong password.
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    pass
