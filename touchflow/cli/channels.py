"""``touchflow channels``: connect a store to Telegram, Viber, WhatsApp, SMS and e-mail
providers. Credentials are sealed before they are stored and never printed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from django.conf import settings
from rich.console import Console
from rich.table import Table

from touchflow.core.channels import spoken
from touchflow.core.errors import InvalidInput
from touchflow.messaging import accounts
from touchflow.messaging.actions import (
    check_provider,
    check_rate_limit,
    do_connect_account,
    do_reseal_credentials,
    do_set_rate_limit,
)
from touchflow.messaging.crypto import new_key as make
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.providers import provider_class
from touchflow.stores.models import Store

app = typer.Typer(help="Connect stores to messaging providers.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _credentials(pairs: list[str], file: Path | None) -> dict[str, object]:
    data: dict[str, object] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail(f"--credentials-file {file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise _fail(f"--credentials-file {file}: must hold a JSON object")
        data.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--credential {pair!r}: must be KEY=VALUE")
        data[key.strip()] = value
    return data


@app.command("add")
def add(
    store: str = typer.Argument(..., help="The store's slug."),
    provider: str = typer.Argument(
        ..., help="telegram, viber, whatsapp, twilio, smsapi or mailgun."
    ),
    handle: str = typer.Option("", help="Bot username, Viber chat URI, sender number/address."),
    base_url: str = typer.Option("", help="API base URL (a proxy or a test server)."),
    credential: list[str] = typer.Option(  # noqa: B008 - typer's way
        [], "--credential", "-c", help="KEY=VALUE, e.g. token=123:abc (repeatable)."
    ),
    credentials_file: Path | None = typer.Option(None, help="A JSON object of credentials."),  # noqa: B008
    rate: str = typer.Option(
        "", help="Messages per second across all workers (default: the provider's own)."
    ),
) -> None:
    """Connect a store to a provider (replacing the store's account for that channel)."""
    store_row = Store.objects.filter(slug=store).first()
    if store_row is None:
        raise _fail(f"store: no store with slug {store!r}")
    try:
        account = do_connect_account(
            store_row, check_provider(provider), _credentials(credential, credentials_file),
            handle=handle, base_url=base_url, rate=_rate(rate),
        )
    except InvalidInput as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{settings.TOUCHFLOW_PUBLIC_URL}{account.webhook_path()}")
    err.print(f"{account.get_provider_display()} connected for {store_row.name}; "
              "its webhook URL is above.")


def _rate(text: str) -> float | None:

    try:
        return check_rate_limit(text)
    except ValueError as exc:
        raise _fail(f"--rate: {exc}") from exc


@app.command("set-rate")
def set_rate(
    store: str = typer.Argument(..., help="The store's slug."),
    channel: str = typer.Argument(..., help=f"{spoken()}."),
    rate: str = typer.Argument(
        ..., help="Messages per second across all workers, or 'default' for the provider's own."
    ),
) -> None:
    """Change how fast a store's account may send."""
    value = _rate(rate)
    account = ChannelAccount.objects.filter(
        store__slug=store, channel=channel, enabled=True
    ).first()
    if account is None:
        raise _fail(f"no enabled {channel} account for store {store!r}")
    do_set_rate_limit(account, value)
    shown = "the provider's default" if value is None else f"{value:g} messages a second"
    err.print(f"{account.get_provider_display()} for {store}: {shown}.")


@app.command("list")
def list_accounts() -> None:
    """Every account with its webhook URL (never its credentials)."""
    table = Table("store", "channel", "provider", "handle", "rate/s", "enabled", "webhook URL")
    for a in ChannelAccount.objects.select_related("store").order_by("store__slug", "channel"):
        rate = a.rate_limit if a.rate_limit is not None else provider_class(a.provider).default_rate
        table.add_row(a.store.slug, a.channel, a.provider, a.handle,
                      f"{rate:g}" if a.rate_limit is not None else f"{rate:g} (default)",
                      "yes" if a.enabled else "no",
                      f"{settings.TOUCHFLOW_PUBLIC_URL}{a.webhook_path()}")
    console.print(table)


@app.command("set-webhook")
def set_webhook(
    store: str = typer.Argument(..., help="The store's slug."),
    channel: str = typer.Argument(..., help="telegram or viber."),
) -> None:
    """Tell the provider where this store's webhook is (Telegram, Viber). The others take
    the URL in their own console: `touchflow channels list` prints it."""
    store_row = Store.objects.filter(slug=store).first()
    cfg = accounts.for_store(store_row.pk, channel) if store_row else None
    if cfg is None:
        raise _fail(f"no enabled {channel} account for store {store!r}")
    live = accounts.provider(cfg)
    register = getattr(live, "set_webhook", None)
    if register is None:
        raise _fail(f"{cfg.provider}: set the webhook URL in the provider's console: "
                    f"{cfg.webhook_url}")
    result = register()
    if not result.ok:
        raise _fail(f"{cfg.provider} refused: {result.error}")
    err.print(f"Webhook set: {cfg.webhook_url}")


@app.command("new-key")
def new_key() -> None:
    """Print a fresh key for TOUCHFLOW_CREDENTIALS_KEY."""
    typer.echo(make())


@app.command("rekey")
def rekey() -> None:
    """Re-seal every account's credentials under the newest key (the first of
    TOUCHFLOW_CREDENTIALS_KEY); run after prepending a new key, then drop the old one."""
    count = do_reseal_credentials()
    err.print(f"{count} account(s) re-sealed.")
