"""Small set-up and counting steps a benchmark runs inside the database under test.

Run as ``python -m bench.dbtool store|visit-setup|hooks-setup N|counts``
with TOUCHFLOW_DATABASE_URL set.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    django.setup()
    from django.apps import apps

    from touchflow.integrations.actions import create_token
    from touchflow.stores.models import Role, Staff, Store

    command = argv[0]
    if command == "store":
        # Bench fixtures, like tests/conftest.py: stores and staff have no actions module.
        Store.objects.create(name="Bench gift shop", slug="bench", country="GB",
                             time_zone="Europe/London", language="en", currency="GBP")
    elif command == "visit-setup":
        store = Store.objects.create(name="Bench store", slug="bench", country="GB",
                                     time_zone="Europe/London", language="en", currency="GBP")
        sam = Staff.objects.create_user(username="bench-sam", password="bench-pass-1",
                                        role=Role.SALESPERSON)
        sam.stores.set([store])
        _token, secret = create_token("bench-pos", store)
        print(json.dumps({"token": secret}))
    elif command == "hooks-setup":
        print(json.dumps(_hooks_setup(int(argv[1]))))
    elif command == "counts":
        print(json.dumps({m._meta.db_table: m._default_manager.count()
                          for m in apps.get_models()}))
    else:
        raise SystemExit(f"unknown command {command!r}")


def _hooks_setup(chats: int) -> dict[str, str]:
    """A store with a Telegram bot and ``chats`` customers who opened it (chat ids
    100000…): the webhook benchmark's replies come from them."""
    from touchflow.core import clock
    from touchflow.customers.models import ContactPoint, Customer, CustomerStore
    from touchflow.messaging.models import ChannelAccount
    from touchflow.stores.models import Store

    now = clock.now()
    store = Store.objects.create(name="Bench store", slug="bench", country="GB",
                                 time_zone="Europe/London", language="en", currency="GBP")
    account = ChannelAccount(store=store, provider="telegram", handle="bench_bot",
                             base_url="http://127.0.0.1:9")
    account.credentials = {"token": "1:bench", "secret_token": "bench-secret"}
    account.save()
    customers = Customer.objects.bulk_create(
        Customer(name=f"Chat {i}", home_store=store, created_at=now) for i in range(chats)
    )
    CustomerStore.objects.bulk_create(
        CustomerStore(customer=c, store=store, first_seen_at=now, last_seen_at=now)
        for c in customers
    )
    ContactPoint.objects.bulk_create(
        ContactPoint(customer=c, kind="telegram", value=str(100000 + i), contact_consent=True,
                     marketing_consent=True, created_at=now)
        for i, c in enumerate(customers)
    )
    return {"path": account.webhook_path(), "secret": "bench-secret"}


if __name__ == "__main__":
    main(sys.argv[1:])
