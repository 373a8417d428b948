"""A channel that accepts everything and sends nothing: measures the engine's own cost."""

from __future__ import annotations

from collections.abc import Sequence

from touchflow.delivery.channels.base import OutgoingMessage, SendResult


class NullChannel:
    honours_idempotency_key = True
    inline = True  # nothing leaves the process: sent on the worker's own thread

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self.sent += len(messages)
        return [SendResult.sent(f"null-{m.idempotency_key}") for m in messages]

    def close(self) -> None:
        pass
