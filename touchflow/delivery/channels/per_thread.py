"""One connection per sending thread, closed together.

A worker sends on many threads at once (``delivery.sending``); HTTP and SMTP
connections are not safe to share between threads, and a shared pool costs more than
it saves (decision 0016). Each thread keeps its own, and ``close_all`` ends them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    def __init__(self, close: Callable[[T], None]) -> None:
        self._close = close
        self._local = threading.local()
        self._all: list[T] = []
        self._lock = threading.Lock()

    def get(self, make: Callable[[], T]) -> T:
        """This thread's connection, made by ``make`` the first time."""
        conn: T | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = make()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def current(self) -> T | None:
        conn: T | None = getattr(self._local, "conn", None)
        return conn

    def drop(self) -> None:
        """Close this thread's connection (its state is unknown): the next ``get``
        makes a new one."""
        conn = self.current()
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._all.remove(conn)
        self._close(conn)

    def close_all(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            self._close(conn)
        self._local = threading.local()
