"""A store's account is rate limited on its own: its rate, or its provider's documented
one, set from the CLI; stores without an account share the deployment-wide channel's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction
from typer.testing import CliRunner

from touchflow.cli import build_app
from touchflow.delivery.channels import base, registry
from touchflow.delivery.channels.base import OutgoingMessage, Route
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.outbound import AccountChannel
from touchflow.stores.models import Store

pytestmark = pytest.mark.django_db
runner = CliRunner()


def _route(channel: AccountChannel, store: Store) -> tuple[str, float | None, bool]:
    message = OutgoingMessage(touch_id=1, idempotency_key="k1", channel=channel.name,
                              address="+48500100200", text="hi", store_id=store.pk)
    found: Route = base.route(channel, message)
    return found.key, found.rate, found.honours_keys


def test_an_account_is_limited_at_its_providers_documented_rate(
    make_account: Callable[..., ChannelAccount], store: Store
) -> None:
    account = make_account("twilio")
    assert _route(AccountChannel("sms"), store) == (f"account:{account.pk}", 1.0, False)


def test_an_accounts_own_rate_overrides_the_default(
    make_account: Callable[..., ChannelAccount], store: Store
) -> None:
    account = make_account("smsapi")
    account.rate_limit = 12.5
    account.save()
    accounts.forget()
    assert _route(AccountChannel("sms"), store) == (f"account:{account.pk}", 12.5, True)


def test_stores_without_an_account_share_the_deployment_wide_channel(
    make_account: Callable[..., ChannelAccount], make_store: Callable[..., Store], store: Store
) -> None:
    other = make_store()
    make_account("twilio", for_store=other)
    shared = AccountChannel("sms", registry.build("sms", "http://127.0.0.1:9/sms?rate=30"))
    assert _route(shared, store) == ("channel:sms", 30.0, True)
    assert _route(shared, other)[:2] == (f"account:{other.channel_accounts.get().pk}", 1.0)


def test_the_database_refuses_a_rate_of_zero(make_account: Callable[..., ChannelAccount]) -> None:
    account = make_account("telegram")
    account.rate_limit = 0
    with pytest.raises(IntegrityError), transaction.atomic():
        account.save()


def test_channels_add_and_set_rate_set_the_accounts_rate(store: Store) -> None:
    added = runner.invoke(build_app(), [
        "channels", "add", store.slug, "smsapi", "-c", "token=t", "--rate", "20",
    ])
    assert added.exit_code == 0, added.output
    assert ChannelAccount.objects.get().rate_limit == 20.0

    changed = runner.invoke(build_app(), ["channels", "set-rate", store.slug, "sms", "2.5"])
    assert changed.exit_code == 0, changed.output
    assert ChannelAccount.objects.get().rate_limit == 2.5
    listing = runner.invoke(build_app(), ["channels", "list"])
    assert "2.5" in listing.stdout

    reset = runner.invoke(build_app(), ["channels", "set-rate", store.slug, "sms", "default"])
    assert reset.exit_code == 0, reset.output
    assert ChannelAccount.objects.get().rate_limit is None


@pytest.mark.parametrize("value", ["0", "-1", "fast", "inf"])
def test_a_bad_rate_names_the_option_and_changes_nothing(store: Store, value: str) -> None:
    result = runner.invoke(build_app(), [
        "channels", "add", store.slug, "telegram", "-c", "token=1:a", "--rate", value,
    ])
    assert result.exit_code == 2
    assert "--rate: rate_limit:" in result.output
    assert not ChannelAccount.objects.exists()


def test_set_rate_names_a_missing_account(store: Store) -> None:
    result = runner.invoke(build_app(), ["channels", "set-rate", store.slug, "sms", "3"])
    assert result.exit_code == 2
    assert "no enabled sms account" in result.output
