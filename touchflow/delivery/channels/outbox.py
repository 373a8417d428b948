"""A channel that writes each message as a JSON line to a local file.

For trials and the demo: everything the engine would send can be read, and nothing
leaves the machine. ``outbox:var/outbox`` writes ``var/outbox/<channel>.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from touchflow.core import clock
from touchflow.delivery.channels.base import OutgoingMessage, SendResult


class OutboxChannel:
    # A reader of the file sees each line's key; a repeat carries the same one.
    honours_idempotency_key = True

    def __init__(self, name: str, directory: str) -> None:
        self.name = name
        self.path = Path(directory) / f"{name}.jsonl"

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                for m in messages:
                    record = {
                        "at": clock.now().isoformat(),
                        "key": m.idempotency_key,
                        "to": m.address,
                        "language": m.language,
                        "subject": m.subject,
                        "text": m.text,
                    }
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            return [SendResult.retry(f"outbox: {exc}") for _m in messages]
        return [SendResult.sent(f"outbox-{m.idempotency_key}") for m in messages]

    def close(self) -> None:
        pass
