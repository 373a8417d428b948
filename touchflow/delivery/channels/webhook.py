"""A generic HTTP channel: POSTs each message as JSON to a URL, over a kept-alive
connection per sending thread. Used for local sinks in tests and benchmarks, and as a
simple way to hand messages to another system, which can drop a repeat by its
``Idempotency-Key``."""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import urlsplit

from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import result_for_status
from touchflow.delivery.channels.per_thread import PerThread


class WebhookChannel:
    # Every request carries an Idempotency-Key header: the receiving system drops a
    # second request with the same key (this channel's contract; ``?keys=off`` on its
    # URL says it does not, registry.build).
    honours_idempotency_key: bool = True
    # Unlimited unless the URL says ``?rate=N`` (registry.build).
    default_rate: ClassVar[float | None] = None

    def __init__(
        self, name: str, url: str, timeout: float = 10.0, rate: float | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: not an http(s) URL: {url!r}")
        self.name = name
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._timeout = timeout
        self.rate = self.default_rate if rate is None else rate
        # http.client connections are not thread-safe: one per sending thread.
        self._conns: PerThread[http.client.HTTPConnection] = PerThread(lambda c: c.close())

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return self._conns.get(lambda: cls(self._host, self._port, timeout=self._timeout))

    def _drop_connection(self) -> None:
        self._conns.drop()

    def _post(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(
            {
                "idempotency_key": message.idempotency_key,
                "channel": message.channel,
                "to": message.address,
                "subject": message.subject,
                "text": message.text,
                "language": message.language,
                "unsubscribe_url": message.unsubscribe_url,
                # A check-in's answers, for a gateway that can show them as buttons.
                "quick_replies": list(message.quick_replies),
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
        }
        conn = self._connection()
        if conn.sock is None:
            try:
                conn.connect()
            except (TimeoutError, OSError) as exc:  # refused or unreachable: never sent
                self._drop_connection()
                return SendResult.retry(f"{type(exc).__name__}: {exc}")
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            self._drop_connection()  # the connection's state is unknown: start afresh
            return SendResult.unknown(f"{type(exc).__name__}: {exc}")
        if response.getheader("Connection", "").lower() == "close":
            self._drop_connection()
        provider_id = ""
        if 200 <= response.status < 300 and text.startswith("{"):
            try:
                provider_id = str(json.loads(text).get("id", ""))
            except ValueError:
                provider_id = ""
        return result_for_status(
            response.status, text, response.getheader("Retry-After"), provider_id
        )

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [self._post(m) for m in messages]

    def close(self) -> None:
        self._conns.close_all()
