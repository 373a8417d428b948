"""The REST API under /api/v1/: a thin layer that parses, calls an action, serialises.

Every route needs a bearer token (``touchflow token create NAME``); every failure is a
4xx in the shape ``errors`` defines. The docs page (``/api/v1/docs``) loads Swagger UI
from django-ninja's own static files (``ninja`` is in ``INSTALLED_APPS``), never from
a CDN.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Router
from ninja.openapi.schema import OpenAPISchema

from touchflow.api import customers, errors, privacy, purchases, reference, visits
from touchflow.api.auth import TokenAuth
from touchflow.api.errors import ApiError


class TouchflowAPI(NinjaAPI):
    """NinjaAPI whose every URL answers failures in the API's JSON error shape, and
    whose OpenAPI document lists them."""

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        patterns = super()._get_urls()
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = errors.json_method_not_allowed(pattern.callback)
        return patterns

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        errors.document_body_errors(schema)
        return schema


api = TouchflowAPI(
    title="Touchflow API",
    version="1",
    description="Visits, purchases and customers for POS systems and integrators. "
    "Authenticate with `Authorization: Bearer tf_…`. Errors are "
    '`{"detail": [{"field", "message", "code"}]}`.',
    urls_namespace="api",
    auth=TokenAuth(),
    parser=errors.JsonParser(),
)
errors.install(api)
api.add_router("", visits.router)
api.add_router("", purchases.router)
api.add_router("", customers.router)
api.add_router("", reference.router)
api.add_router("", privacy.router)

# Last, so that it only catches what no route above matched: unknown paths answer
# in the API's own error shape rather than Django's HTML 404 page.
_fallback = Router(auth=None)


@_fallback.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}",
                         include_in_schema=False)
def unknown_path(request: HttpRequest, rest: str) -> None:
    raise ApiError(404, None, f"No API endpoint at /api/v1/{rest}.", "not_found")


@_fallback.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/",
                         include_in_schema=False)
def root(request: HttpRequest) -> None:
    raise ApiError(404, None, "See /api/v1/docs for the endpoints.", "not_found")


api.add_router("", _fallback)
