"""The sandbox that staff-written message templates run in.

Templates see only the variables listed here; the sandbox refuses attribute
access to anything unsafe, so a template cannot reach code or other data.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

ALLOWED_VARIABLES = frozenset({"customer", "store", "seller", "unsubscribe_url", "greeting"})

# What each variable offers; the renderer builds the same shape from real rows.
SAMPLE_CONTEXT = {
    "customer": {"name": "Anna Nowak", "first_name": "Anna"},
    "store": {"name": "Meble Nowak", "phone": "+48221234567"},
    "seller": {"name": "Piotr", "first_name": "Piotr"},
    "unsubscribe_url": "https://touchflow.example/u/sample",
    # In the message's language, with the first name or without it when the customer
    # has none ("Hello Anna," / "Hello,"; "Здравствуйте, Анна!"; "Dzień dobry, Anna!"):
    # the renderer fills it in (``delivery.render.greeting``).
    "greeting": "Hello Anna,",
}


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    # Messages are plain text (SMS, messengers); e-mail bodies are escaped where
    # they are turned into HTML, not here.
    return ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
    )
