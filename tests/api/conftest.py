"""An API client that talks JSON with a bearer token, and tokens to give it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from touchflow.integrations.actions import create_token
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store

_names = itertools.count(1)


@dataclass
class ApiClient:
    """Requests to /api/v1 as one integration; ``secret=None`` sends no token."""

    client: Client
    secret: str | None
    token: ApiToken | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(f"/api/v1{path}", data=json.dumps(body),
                                content_type="application/json", headers=self._headers())

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers())

    def send(self, method: str, path: str, data: bytes | str = b"",
             content_type: str = "application/json") -> Any:
        """A raw request, for bodies that are not JSON at all."""
        return self.client.generic(method, f"/api/v1{path}", data, content_type=content_type,
                                   headers=self._headers())


@pytest.fixture
def make_api(db: None) -> Callable[..., ApiClient]:
    def make(store: Store | None = None, name: str | None = None) -> ApiClient:
        token, secret = create_token(name or f"pos-{next(_names)}", store=store)
        return ApiClient(Client(), secret, token)

    return make


@pytest.fixture
def api(make_api: Callable[..., ApiClient], store: Store) -> ApiClient:
    """A POS of the Warsaw store: a token bound to it."""
    return make_api(store, name="warsaw-till")


@pytest.fixture
def open_api(make_api: Callable[..., ApiClient]) -> ApiClient:
    """An integration for every store: a token bound to none."""
    return make_api(None, name="crm-sync")


def problems(response: Any) -> list[tuple[str | None, str]]:
    """The (field, code) pairs of an error answer."""
    return [(p["field"], p["code"]) for p in response.json()["detail"]]
