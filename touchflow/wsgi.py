"""WSGI entry point for production servers (gunicorn).

Once the application is loaded, a thread reads the tone check's data for the
deployment's languages (``guardrails.check.warm``): a staff member's first reply or
chain preview would otherwise wait seconds for the Polish and Russian dictionaries.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
application = get_wsgi_application()


def _warm() -> None:
    from touchflow.guardrails.check import warm

    warm(code for code, _name in settings.LANGUAGES)


threading.Thread(target=_warm, name="tone-warm-up", daemon=True).start()
