"""Log lines a machine can read: one JSON object per line (``touchflow worker
--log-format json``), for a log shipper to index without parsing prose.

Each object has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, then
every field the call passed with ``extra={...}`` (``log.info("sent", extra={"touch":
42})`` gives ``"touch": 42``), and ``exception`` with the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# What every LogRecord carries: not an "extra" field of the call.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot hold (a datetime, a Decimal) is
        # written as its text instead of losing the whole line.
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str) -> Callable[[], None]:
    """Write log records in ``log_format``: "text" leaves settings.LOGGING as it is;
    "json" gives its stderr handlers the JSON formatter (adding one when there is
    none), so each line comes out once, in one format. The level stays
    TOUCHFLOW_LOG_LEVEL's. Returns what undoes it (tests); raises ValueError naming the
    option."""
    if log_format not in FORMATS:
        raise ValueError(f"--log-format: must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if log_format == "text":
        return lambda: None
    root = logging.getLogger()
    # Exactly StreamHandler: the console handler settings.LOGGING made, not a subclass
    # someone else installed (pytest's capture handlers are subclasses).
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if not plain:
        added = logging.StreamHandler()
        added.setFormatter(JsonFormatter())
        root.addHandler(added)
        return lambda: root.removeHandler(added)
    before = [(h, h.formatter) for h in plain]
    for handler in plain:
        handler.setFormatter(JsonFormatter())

    def undo() -> None:
        for handler, formatter in before:
            handler.setFormatter(formatter)

    return undo
