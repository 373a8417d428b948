"""How an HTTP answer maps to a send result: the retry rules of STYLE §4."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from touchflow.core import clock
from touchflow.delivery.channels.base import SendResult


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - clock.now()).total_seconds(), 0.0)


def transient(status: int) -> bool:
    """Whether an HTTP status is worth retrying: 429 (too many requests) and 5xx."""
    return status == 429 or status >= 500


def result_for_status(
    status: int, body: str, retry_after: str | None, provider_id: str = ""
) -> SendResult:
    """2xx sent; 429 and 5xx retried (honouring Retry-After); other 4xx final."""
    if 200 <= status < 300:
        return SendResult.sent(provider_id)
    error = f"HTTP {status}: {body[:300]}"
    if transient(status):
        return SendResult.retry(error, retry_after_seconds(retry_after))
    return SendResult.failed(error)
