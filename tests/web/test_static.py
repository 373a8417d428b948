"""Pages load nothing from outside the server; the vendored htmx is the one its README names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from django.test import Client

from touchflow.customers.actions import ContactInput
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store

VENDOR = Path(__file__).resolve().parents[2] / "touchflow" / "web" / "static" / "web" / "vendor"
_LINK = re.compile(
    r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I
)
_CSS_URL = re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')]+)""", re.I)


def _outside_links(html: str) -> list[str]:
    return _LINK.findall(html) + _CSS_URL.findall(html)


def test_the_scan_finds_outside_links() -> None:
    html = ('<script src="https://cdn.example/htmx.js"></script><link href=//fonts.example/x>'
            '<a href="/customers/">ok</a><div style="background:url(\'http://x.example/a.png\')">')
    assert _outside_links(html) == ["https://cdn.example/htmx.js", "//fonts.example/x",
                                    "http://x.example/a.png"]


def test_no_page_loads_anything_from_outside(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    customer, _ = resolve_customer(store=store, actor=Actor(source="api"), name="Anna",
                                   contacts=[ContactInput("phone", "+48501234567")])
    assert store.telegram_bot  # so the counter shows its QR code
    pages = {"/login/": Client().get("/login/")}
    client = login_client(manager)
    for url in ("/", "/customers/", f"/customers/{customer.pk}/", "/profile/"):
        pages[url] = client.get(url)
    pages["contact check"] = client.post("/counter/contact/", {"store": store.pk,
                                                               "contact": "+48501234567"})
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert _outside_links(response.content.decode()) == [], url
    # The QR code is drawn inline; the t.me link lives only in its modules.
    counter = pages["/"].content.decode()
    assert "<svg" in counter
    assert "t.me" not in counter


def test_our_css_and_the_vendored_script_load_nothing_from_outside() -> None:
    css = (VENDOR.parent / "touchflow.css").read_text()
    assert _CSS_URL.findall(css) == []
    assert "@import" not in css


def test_vendored_htmx_matches_its_readme() -> None:
    readme = (VENDOR / "README.md").read_text()
    digest = hashlib.sha256((VENDOR / "htmx.min.js").read_bytes()).hexdigest()
    assert f"| `htmx.min.js` | `htmx.org` (`dist/htmx.min.js`) | 2.0.11 | `{digest}` |" in readme


def test_static_files_are_served(db: None) -> None:
    client = Client()
    for path in ("/static/web/vendor/htmx.min.js", "/static/web/touchflow.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content if response.streaming else [response.content])
