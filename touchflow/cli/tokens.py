"""``touchflow token``: API tokens for POS systems and integrations."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from touchflow.core.errors import InvalidInput
from touchflow.integrations.actions import create_token, revoke_token
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store

app = typer.Typer(help="Create, list and revoke API tokens for integrations.", no_args_is_help=True)
console = Console()


@app.command("create")
def create(
    name: str = typer.Argument(..., help="A name for the integration, e.g. 'pos-warsaw'."),
    store: str = typer.Option(None, help="Restrict the token to the store with this slug."),
) -> None:
    """Create an API token and print it once. Use it as 'Authorization: Bearer <token>'."""
    store_row = None
    if store:
        store_row = Store.objects.filter(slug=store).first()
        if store_row is None:
            console.print(f"[red]--store: no store with slug {store!r}[/red]")
            raise typer.Exit(2)
    try:
        _token, secret = create_token(name, store_row)
    except InvalidInput as exc:
        console.print(f"[red]{exc.field}: {exc.message}[/red]")
        raise typer.Exit(2) from exc
    # The bare secret on stdout, so scripts can capture it; guidance on stderr.
    typer.echo(secret)
    Console(stderr=True).print(f"Token {name!r} created. It is shown only now; store it safely.")


@app.command("list")
def list_tokens() -> None:
    """List tokens (never their secrets)."""
    table = Table("name", "prefix", "store", "created", "last used", "revoked")
    for t in ApiToken.objects.select_related("store").order_by("name"):
        table.add_row(
            t.name,
            t.prefix,
            t.store.slug if t.store else "all",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Revoke a token: requests with it are refused from now on."""
    try:
        revoke_token(name)
    except InvalidInput as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"Token {name!r} revoked.")
