"""Small set-up and counting steps a benchmark runs inside the database under test.

Run as ``python -m bench.dbtool store|visit-setup|counts`` with TOUCHFLOW_DATABASE_URL set.
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
    elif command == "counts":
        print(json.dumps({m._meta.db_table: m._default_manager.count()
                          for m in apps.get_models()}))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
