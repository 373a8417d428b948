"""Provider credentials are encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``TOUCHFLOW_CREDENTIALS_KEY``: one or more url-safe base64 keys
separated by commas, newest first (``touchflow channels new-key`` prints one). Older keys still
decrypt, so a key is rotated by prepending a new one and re-saving the accounts
(``touchflow channels rekey``). Without the variable, the embedded default derives a
key from ``TOUCHFLOW_SECRET_KEY``: good enough for a trial, said so in the docs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from touchflow.core.errors import InvalidInput


@cache
def _fernet(spec: str, secret_key: str) -> MultiFernet:
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    if not keys:
        keys = [base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise InvalidInput(
            "TOUCHFLOW_CREDENTIALS_KEY",
            "Each key must be 32 url-safe base64-encoded bytes "
            "(`touchflow channels new-key` prints one).",
            "invalid_key",
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(settings.TOUCHFLOW_CREDENTIALS_KEY, settings.SECRET_KEY)


def new_key() -> str:
    return Fernet.generate_key().decode()


def seal(data: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    """The credentials; raises InvalidInput when no configured key opens them."""
    if not token:
        return {}
    try:
        return dict(json.loads(fernet().decrypt(token.encode())))
    except InvalidToken as exc:
        raise InvalidInput(
            "credentials",
            "Cannot decrypt the stored credentials: TOUCHFLOW_CREDENTIALS_KEY does not hold "
            "the key they were saved with.",
            "undecryptable",
        ) from exc


def reseal(token: str) -> str:
    """The same credentials under the newest key."""
    return fernet().rotate(token.encode()).decode() if token else token
