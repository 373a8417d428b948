"""Every response says how the browser must treat it: the CSP, no sniffing, no framing,
no referrer to other sites."""

from __future__ import annotations

from typing import Any


def test_the_policy_header_is_on_pages_static_files_and_the_api(
    client: Any, db: None,
) -> None:
    for path in ("/login/", "/static/web/touchflow.css", "/api/v1/docs", "/admin/login/"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "frame-ancestors 'none'" in policy
        if path != "/static/web/touchflow.css":
            assert response["X-Frame-Options"] == "DENY"
