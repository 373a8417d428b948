from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    name = "touchflow.delivery"
    label = "delivery"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        from touchflow.core import lookups, pg_timestamps

        lookups.register()
        pg_timestamps.register()
