"""A local HTTP sink for the crash test: counts every idempotency key it accepts and can
fail a share of requests the way providers do (500, 429 with Retry-After, a hang).

It runs in the test process on its own threads; worker subprocesses reach it over
127.0.0.1 like any provider.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import serving

FAILURES = ("500", "429", "hang")


@dataclass
class CrashSink:
    """``fail_share`` of requests fail, each failure one of FAILURES at random.

    Only a 2xx answer counts as accepted: a hung request answers 504 after ``hang``
    seconds, long after the client gave up, so the client never saw it accepted.
    """

    fail_share: float = 0.0
    hang: float = 0.5
    seed: int = 7
    delay: float = 0.0  # seconds every answer takes, like a provider across the internet
    accepted: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    # The recipient of every accepted request, in order of arrival.
    addresses: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self) -> str:
        with self.lock:
            self.requests += 1
            if self._rng.random() >= self.fail_share:
                return "ok"
            failure = self._rng.choice(FAILURES)
            self.failures[failure] += 1
            return failure

    def accept(self, key: str, address: str = "") -> None:
        with self.lock:
            self.accepted[key] += 1
            self.addresses.append(address)


def _handler(sink: CrashSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out in two writes (head, body); with Nagle on, the body waits
        # for the client's delayed ACK, 40 ms a request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            key = self.headers.get("Idempotency-Key", "")
            verdict = sink.decide()
            if sink.delay:
                time.sleep(sink.delay)
            headers: dict[str, str] = {}
            if verdict == "ok":
                status = 200
                sink.accept(key, str(json.loads(body or b"{}").get("to", "")))
            elif verdict == "429":
                status, headers = 429, {"Retry-After": "1"}
            elif verdict == "500":
                status = 500
            else:
                time.sleep(sink.hang)
                status = 504
            payload = json.dumps({"id": key}).encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # The client timed out and closed the connection: expected for a hang.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Several workers reconnect at once after a timeout or a kill.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed worker or a client that timed out drops its connection mid-request:
        # expected here, not worth a traceback.
        pass


@contextmanager
def crash_sink(
    fail_share: float = 0.0, hang: float = 0.5, delay: float = 0.0
) -> Iterator[tuple[CrashSink, str]]:
    sink = CrashSink(fail_share=fail_share, hang=hang, delay=delay)
    with serving(_Server(("127.0.0.1", 0), _handler(sink))) as url:
        yield sink, url
