"""Connecting a store to a provider: the CLI and the admin, credentials write-only."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from typer.testing import CliRunner

from tests.messaging.fakes.base import Answer, FakeProvider, running
from touchflow.cli import build_app
from touchflow.messaging import crypto
from touchflow.messaging.models import ChannelAccount
from touchflow.stores.models import Staff, Store

pytestmark = pytest.mark.django_db
runner = CliRunner()


def test_channels_add_seals_the_credentials_and_prints_the_webhook_url(
    store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "creds.json"
    file.write_text(json.dumps({"secret_token": "s3"}))
    result = runner.invoke(build_app(), [
        "channels", "add", store.slug, "telegram", "--handle", "shop_bot",
        "-c", "token=123:abc", "--credentials-file", str(file),
    ])
    assert result.exit_code == 0, result.output
    account = ChannelAccount.objects.get()
    assert account.credentials == {"token": "123:abc", "secret_token": "s3"}
    assert "123:abc" not in account.sealed_credentials
    assert result.stdout.strip().endswith(account.webhook_path())
    listing = runner.invoke(build_app(), ["channels", "list"])
    assert "telegram" in listing.stdout and "123:abc" not in listing.stdout

    # A second account for the channel replaces the first (one per store and channel).
    again = runner.invoke(build_app(), ["channels", "add", store.slug, "telegram",
                                        "-c", "token=456:def"])
    assert again.exit_code == 0
    assert ChannelAccount.objects.filter(enabled=True).get().credentials == {"token": "456:def"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "telegram"], "no store with slug 'nowhere'"),
        (["{store}", "pigeon"], "provider: must be one of"),
        (["{store}", "telegram", "-c", "token"], "must be KEY=VALUE"),
    ],
)
def test_channels_add_names_what_is_wrong(store: Store, args: list[str], message: str) -> None:
    args = [a.replace("{store}", store.slug) for a in args]
    result = runner.invoke(build_app(), ["channels", "add", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not ChannelAccount.objects.exists()


def test_set_webhook_registers_the_url_and_secret_with_telegram(
    store: Store, make_account: Callable[..., ChannelAccount]
) -> None:
    fake = FakeProvider()
    fake.routes[("POST", "/bot")] = lambda r: Answer(200, {"ok": True, "result": True})
    with running(fake) as url:
        account = make_account("telegram", url, {"token": "1:x", "secret_token": "s3"})
        result = runner.invoke(build_app(), ["channels", "set-webhook", store.slug, "telegram"])
    assert result.exit_code == 0, result.output
    sent = fake.sent("/bot1:x/setWebhook")[0].json()
    assert sent["url"].endswith(account.webhook_path()) and sent["secret_token"] == "s3"


def test_rekey_moves_every_account_to_the_newest_key(
    make_account: Callable[..., ChannelAccount], settings: object
) -> None:
    old = crypto.new_key()
    settings.TOUCHFLOW_CREDENTIALS_KEY = old  # type: ignore[attr-defined]
    account = make_account("telegram", credentials={"token": "t"})
    new = crypto.new_key()
    settings.TOUCHFLOW_CREDENTIALS_KEY = f"{new},{old}"  # type: ignore[attr-defined]
    assert runner.invoke(build_app(), ["channels", "rekey"]).exit_code == 0
    settings.TOUCHFLOW_CREDENTIALS_KEY = new  # type: ignore[attr-defined]
    assert ChannelAccount.objects.get(pk=account.pk).credentials == {"token": "t"}


def test_the_admin_takes_credentials_but_never_shows_them(
    client: Client, admin_staff: Staff, store: Store
) -> None:
    client.force_login(admin_staff)
    answer = client.post("/admin/messaging/channelaccount/add/", {
        "store": store.pk, "provider": "viber", "handle": "shopchat", "base_url": "",
        "enabled": "on", "new_credentials": '{"auth_token": "viber-secret"}',
    })
    assert answer.status_code == 302, answer.content.decode()[:2000]
    account = ChannelAccount.objects.get()
    assert (account.channel, account.credentials) == ("viber", {"auth_token": "viber-secret"})
    page = client.get(f"/admin/messaging/channelaccount/{account.pk}/change/").content.decode()
    assert "viber-secret" not in page and account.webhook_path() in page
    bad = client.post(f"/admin/messaging/channelaccount/{account.pk}/change/", {
        "store": store.pk, "provider": "viber", "handle": "shopchat", "base_url": "",
        "enabled": "on", "new_credentials": "{not json",
    })
    assert bad.status_code == 200 and "Not valid JSON" in bad.content.decode()
    assert ChannelAccount.objects.get().credentials == {"auth_token": "viber-secret"}
