"""Fixtures for provider tests: a store's account pointed at a local fake server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

# The engine's fixtures (driven clock, example chains, visits, sinks) serve here too.
from tests.delivery.conftest import (  # noqa: F401
    clock,
    flows,
    make_dispatcher,
    sink,
    smtp,
    type3_visit,
)
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.models import Store


@pytest.fixture(autouse=True)
def _fresh_accounts() -> Iterator[None]:
    accounts.forget()
    yield
    accounts.forget()


@pytest.fixture
def make_account(store: Store) -> Callable[..., ChannelAccount]:
    def make(provider: str, base_url: str = "", credentials: dict[str, Any] | None = None,
             handle: str = "", for_store: Store | None = None) -> ChannelAccount:
        account = ChannelAccount(
            store=for_store or store, provider=provider, handle=handle, base_url=base_url
        )
        account.credentials = credentials or {}
        account.save()
        accounts.forget()
        return account

    return make


@pytest.fixture
def sent_touch(type3_visit: Callable[..., Any], clock: Any, account: ChannelAccount,  # noqa: F811
               flows: Any) -> Any:  # noqa: F811
    """The warming chain's first message, sent by SMS through the store's account (the
    test module's ``account`` fixture: Twilio, SMSAPI, …)."""
    from datetime import UTC, datetime

    from touchflow.delivery.channels.null import NullChannel
    from touchflow.delivery.dispatcher import Dispatcher
    from touchflow.delivery.models import Touch
    from touchflow.messaging.outbound import AccountChannel

    type3_visit(email="anna@example.pl")
    clock.move_to(datetime(2026, 6, 2, 15, 0, tzinfo=UTC))
    dispatcher = Dispatcher(
        {"sms": AccountChannel("sms"), "email": NullChannel("email")}, now=clock.now
    )
    dispatcher.drain()
    dispatcher.close()
    return Touch.objects.get(step__key="thank-you")


def post_hook(client: Client, account: ChannelAccount, body: bytes | str,
              content_type: str = "application/json", **headers: str) -> Any:
    """POST a webhook body to the account's URL with the given headers."""
    return client.post(account.webhook_path(), data=body, content_type=content_type,
                       headers=headers)


def deliver() -> int:
    """What the worker does before each round: send the notices webhooks queued (their
    answers, STOP confirmations). Returns how many it tried."""
    from touchflow.messaging import notices

    return notices.tick()
