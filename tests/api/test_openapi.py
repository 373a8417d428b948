"""The OpenAPI document and the docs page, which must load nothing from the internet."""

from __future__ import annotations

import re

from django.test import Client


def test_openapi_is_json_listing_every_endpoint(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {p: sorted(paths[p]) for p in paths} == {
        "/api/v1/visits": ["post"],
        "/api/v1/purchases": ["post"],
        "/api/v1/customers": ["get", "post"],
        "/api/v1/customers/{customer_id}": ["get"],
        "/api/v1/customers/{customer_id}/export": ["get"],
        "/api/v1/customers/{customer_id}/erase": ["post"],
        "/api/v1/reasons": ["get"],
        "/api/v1/categories": ["get"],
    }
    assert schema["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer"}
    }
    visit_in = schema["components"]["schemas"]["VisitIn"]
    assert visit_in["required"] == ["bought", "contact_capture"]
    assert set(paths["/api/v1/visits"]["post"]["responses"]) == {
        "200", "201", "400", "401", "403", "404", "413", "415", "422"}


def test_docs_page_loads_only_local_assets(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html))
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    assert "/static/ninja/swagger-ui.css" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
