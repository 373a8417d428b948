"""Sign-in with throttling, and sign-out, on Django's auth views with our templates."""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from touchflow.web import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses to even check the password while the username or address is locked out."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Wrong username or password."),
        "inactive": _("This account is disabled."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")
        self.throttled = False

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = throttle.client_address(self.request) if self.request else "unknown"
        wait = throttle.locked_for(username, address)
        if wait is not None:
            self.throttled = True
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
                    "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
                    minutes,
                ) % {"minutes": minutes},
                code="throttled",
            )
        try:
            return super().clean()
        except ValidationError:
            throttle.record_failure(username, address)
            raise


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.record_success(form.cleaned_data.get("username") or "")
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        # 429 tells scripts (and tests) that this was the lock, not a wrong password.
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response


class LogoutView(auth_views.LogoutView):
    pass
