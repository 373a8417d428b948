"""Whether this deployment still runs on the trial's public secrets.

The trial secret key is written in ``settings.py`` for anyone to read: whatever is
signed with it (unsubscribe links, sessions, password-reset tokens) can be forged
offline, and provider credentials sealed with a key derived from it can be opened.
``touchflow serve`` refuses to start on it outside debug mode (``touchflow demo`` is a
trial and keeps it); ``manage.py check --deploy`` reports it, and also a credentials
key left to be derived from the secret key (changing the secret key would then lose
every stored provider credential).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning


def trial_secret_problems() -> list[str]:
    """What is signed or sealed with a public key here; empty when nothing is."""
    if settings.SECRET_KEY != settings.TRIAL_SECRET_KEY:
        return []
    problems = ["TOUCHFLOW_SECRET_KEY is not set: links and sessions are signed with the "
                "trial's public key, so anyone can forge them."]
    if not settings.TOUCHFLOW_CREDENTIALS_KEY:
        problems.append("TOUCHFLOW_CREDENTIALS_KEY is not set: provider credentials are "
                        "sealed with a key derived from the trial's public key.")
    return problems


def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Warning(problem, hint="Set it in the environment (see README, Configuration).",
                id="touchflow.W001")
        for problem in trial_secret_problems()
    ]
    if not settings.TOUCHFLOW_CREDENTIALS_KEY and not messages:
        messages.append(Warning(
            "TOUCHFLOW_CREDENTIALS_KEY is not set: provider credentials are sealed with a "
            "key derived from TOUCHFLOW_SECRET_KEY, and changing that key loses them.",
            hint="Set TOUCHFLOW_CREDENTIALS_KEY to the output of "
                 "`touchflow channels new-key`.",
            id="touchflow.W002",
        ))
    return messages
