from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HealthConfig(AppConfig):
    name = "touchflow.health"
    label = "health"
    verbose_name = _("Relationship health")
    default_auto_field = "django.db.models.BigAutoField"
