"""Where a visit or purchase entered Touchflow."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    COUNTER = "counter", _("Counter screen")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    DEMO = "demo", _("Demo data")
