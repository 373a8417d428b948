from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "touchflow.visits"
    label = "visits"
    verbose_name = _("Visits")
