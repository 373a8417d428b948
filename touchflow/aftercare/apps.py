from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftercareConfig(AppConfig):
    name = "touchflow.aftercare"
    label = "aftercare"
    verbose_name = _("Aftercare")
    default_auto_field = "django.db.models.BigAutoField"
