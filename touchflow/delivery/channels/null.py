"""A channel that accepts everything and sends nothing: measures the engine's own cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from touchflow.delivery.channels.base import OutgoingMessage, SendResult


class NullChannel:
    # Nothing is sent, so nothing can arrive twice; and nothing limits its speed.
    honours_idempotency_key: ClassVar[bool] = True
    default_rate: ClassVar[float | None] = None
    inline = True  # nothing leaves the process: sent on the worker's own thread

    def __init__(self, name: str) -> None:
        self.name = name
        self.rate = self.default_rate
        self.sent = 0

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self.sent += len(messages)
        return [SendResult.sent(f"null-{m.idempotency_key}") for m in messages]

    def close(self) -> None:
        pass
