"""The privacy settings, read from Django settings or the environment.

``TOUCHFLOW_RETENTION_DAYS`` (365): message texts older than this are cleared.
``TOUCHFLOW_INBOUND_EVENT_DAYS`` (8): how long a webhook event id is remembered; longer
than the longest retry window a provider documents (decision 0012).
(``TOUCHFLOW_PRIVACY_KEY``, the key of the suppression list's hashes, is read by
``customers.suppression``.)
"""

from __future__ import annotations

import os

from django.conf import settings


def _setting(name: str, default: str) -> str:
    return str(getattr(settings, name, None) or os.environ.get(name) or default)


def retention_days() -> int:
    return int(_setting("TOUCHFLOW_RETENTION_DAYS", "365"))


def inbound_event_days() -> int:
    return int(_setting("TOUCHFLOW_INBOUND_EVENT_DAYS", "8"))
