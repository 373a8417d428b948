"""A generic HTTP channel: POSTs each message as JSON to a URL, over a kept-alive
connection per sending thread. Used for local sinks in tests and benchmarks, and as a
simple way to hand messages to another system, which can drop a repeat by its
``Idempotency-Key``."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.http_status import result_for_status


class WebhookChannel:
    honours_idempotency_key = True

    def __init__(self, name: str, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: not an http(s) URL: {url!r}")
        self.name = name
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._timeout = timeout
        # http.client connections are not thread-safe: one per sending thread.
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                self._all.remove(conn)

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
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
