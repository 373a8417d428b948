"""gunicorn's application without the rollups (``bench.without_rollups``)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from bench.without_rollups import switch_off

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
application = get_wsgi_application()
switch_off()
