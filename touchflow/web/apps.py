from __future__ import annotations

from django.apps import AppConfig
from django.core import checks as django_checks
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "touchflow.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self) -> None:
        from django.contrib import admin

        from touchflow.core import secrets
        from touchflow.web.views.auth import ThrottledAdminAuthenticationForm

        # `check --deploy` reports the trial's public secrets.
        django_checks.register(secrets.check_secrets, "security", deploy=True)

        # The admin's sign-in counts failures with ours: one lock for both doors.
        admin.site.login_form = ThrottledAdminAuthenticationForm
