"""The REST API under /api/v1/: a thin layer that parses, calls an action, serialises."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Touchflow API", version="1", urls_namespace="api")
