"""Model fields with a performance contract."""

from __future__ import annotations

from typing import Any

from django.db import models


class JSONField(models.JSONField):
    """A JSON field whose bulk inserts go in as plain ``VALUES`` rows.

    Django 5.2 bulk-inserts on PostgreSQL through ``UNNEST`` of one array per column;
    for a ``jsonb[]`` array psycopg escapes every element in Python, which cost the
    importer and the dispatcher more than the database work itself. A field that
    defines ``get_placeholder`` opts its model out of ``UNNEST``.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


class HttpsURLField(models.URLField):  # type: ignore[type-arg]
    """A URL field whose form reads an address typed without a scheme as https (Django
    6's default, chosen now rather than through a deprecated setting)."""

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"assume_scheme": "https", **kwargs})
