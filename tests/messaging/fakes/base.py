"""A local HTTP server that plays a provider's API: each fake declares its routes and
answers in the provider's documented shapes. Tests read what it received and script
failures (``fail_next``) to see how Touchflow reacts to the provider's real error
bodies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import serving


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int
    body: bytes | str | dict[str, Any] | list[Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)


Route = Callable[[Request], Answer]


class FakeProvider:
    """Subclasses fill ``routes``: {(method, path prefix): handler}."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.forced: list[Answer] = []
        self.lock = threading.Lock()
        self.connections = 0  # TCP connections accepted (connection reuse shows here)
        self.routes: dict[tuple[str, str], Route] = {}

    def fail_next(self, *answers: Answer) -> None:
        """The next requests get these answers instead of the normal ones, in order."""
        with self.lock:
            self.forced.extend(answers)

    def handle(self, request: Request) -> Answer:
        with self.lock:
            self.requests.append(request)
            if self.forced:
                return self.forced.pop(0)
        for (method, prefix), route in sorted(self.routes.items(), key=lambda r: -len(r[0][1])):
            if request.method == method and request.path.startswith(prefix):
                return route(request)
        return Answer(404, {"error": f"no route {request.method} {request.path}"})

    def sent(self, path_part: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path_part in r.path]


def _handler(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Head and body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK (40 ms a request on a kept-alive connection).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with fake.lock:
                fake.connections += 1

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Request(
                self.command, parts.path, parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
            )
            answer = fake.handle(request)
            if answer.delay:
                threading.Event().wait(answer.delay)
            body = answer.body
            content_type = "application/json"
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            else:
                data = body.encode() if isinstance(body, str) else body
                content_type = answer.headers.get("Content-Type", "text/plain; charset=utf-8")
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - the stdlib's names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(fake: FakeProvider) -> Iterator[str]:
    """Serve ``fake`` on a free port; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    with serving(server) as url:
        yield url.removesuffix("/messages")
