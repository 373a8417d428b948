"""Sign-in attempts from a process of its own, against the database in
``TOUCHFLOW_DATABASE_URL``: the cross-process throttling tests run several of these.

``python -m tests.web.login_process migrate``
``python -m tests.web.login_process staff USERNAME PASSWORD ROLE``
``python -m tests.web.login_process login PATH USERNAME PASSWORD COUNT ADDRESS``
prints the status codes and whether the last attempt ended signed in, as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    os.environ["TOUCHFLOW_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    command, *args = argv
    if command == "migrate":
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    elif command == "staff":
        from touchflow.stores.models import Staff

        username, password, role = args
        Staff.objects.create_user(username=username, password=password, role=role)
    elif command == "login":
        from django.test import Client

        path, username, password, count, address = args
        codes, signed_in = [], False
        for _ in range(int(count)):
            client = Client()
            response = client.post(path, {"username": username, "password": password},
                                   REMOTE_ADDR=address)
            codes.append(response.status_code)
            signed_in = "_auth_user_id" in client.session
        print(json.dumps({"codes": codes, "signed_in": signed_in}))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
