"""Bearer-token authentication, and who a request acts as."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from touchflow.integrations import actions as integration_actions
from touchflow.integrations.actor import Actor
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Staff


class TokenAuth(HttpBearer):
    """``Authorization: Bearer tf_…`` → the live ``ApiToken`` (with its store loaded).

    One query per request; ``last_used_at`` is written at most once a minute.
    """

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = integration_actions.authenticate(token.strip())
        if found is not None:
            integration_actions.mark_used(found)
        return found


def token_of(request: HttpRequest) -> ApiToken:
    """The token the request authenticated with (set by ``TokenAuth``)."""
    return request.auth  # type: ignore[attr-defined,no-any-return]


def actor_for(request: HttpRequest, staff: Staff | None = None) -> Actor:
    """The request acts as its integration, on behalf of ``staff`` when one is named."""
    return Actor(source="api", integration=token_of(request), staff=staff)
