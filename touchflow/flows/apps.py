from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "touchflow.flows"
    label = "flows"
    verbose_name = _("Chains")
