from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    name = "touchflow.delivery"
    label = "delivery"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        from touchflow.core.lookups import register

        register()
