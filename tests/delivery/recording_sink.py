"""A local HTTP sink for the resilience tests: records who sent which idempotency key
for which recipient, and answers one client address slowly.

It runs in the test process on its own threads and binds to any address of this machine:
127.0.0.1, or the host's end of a test's own network namespace link.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import serving


@dataclass
class RecordingSink:
    """Every accepted request: its key, its recipient and the address it came from.

    A request from ``slow_peer`` (from anyone when it is empty) is answered after
    ``delay`` seconds; it is accepted before the wait: the provider has the message even
    if the answer never arrives.

    The ``hold_at``-th request (counting from 1; 0 for none) is accepted, then not
    answered until ``release`` is set: its worker is then surely mid-batch, between two
    of its queries.
    """

    slow_peer: str = ""
    delay: float = 0.0
    accepted: Counter[str] = field(default_factory=Counter)
    keys_by_recipient: defaultdict[str, set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    by_peer: Counter[str] = field(default_factory=Counter)
    hold_at: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, key: str, recipient: str, peer: str) -> bool:
        """Record the request; True if it is the one to hold."""
        with self.lock:
            self.accepted[key] += 1
            self.keys_by_recipient[recipient].add(key)
            self.by_peer[peer] += 1
            return sum(self.accepted.values()) == self.hold_at

    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())

    def from_peer(self, peer: str) -> int:
        with self.lock:
            return self.by_peer[peer]


def _handler(sink: RecordingSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out in two writes (head, body); with Nagle on, the body waits
        # for the client's delayed ACK, 40 ms a request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            key = self.headers.get("Idempotency-Key", "")
            peer = self.client_address[0]
            if sink.accept(key, str(body.get("to", "")), peer):
                sink.holding.set()
                sink.release.wait(timeout=60)
            if sink.delay and sink.slow_peer in ("", peer):
                time.sleep(sink.delay)
            payload = json.dumps({"id": key}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # The client is gone (its link was cut): the message was still accepted.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A worker whose link was cut or whose database went away drops its connection
        # mid-request: expected here, not worth a traceback.
        pass


@contextmanager
def recording_sink(
    host: str = "127.0.0.1", slow_peer: str = "", delay: float = 0.0, hold_at: int = 0
) -> Iterator[tuple[RecordingSink, str]]:
    sink = RecordingSink(slow_peer=slow_peer, delay=delay, hold_at=hold_at)
    with serving(_Server((host, 0), _handler(sink))) as url:
        try:
            yield sink, url.replace("127.0.0.1", host, 1)
        finally:
            sink.release.set()  # a held request must not keep the server from stopping
