"""Durations as people write them in chain files: "2d", "1w", "3h", "1d12h", "90m"."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """Parse "2d", "1w", "3h", "1d12h"; raise ValueError with what is wrong."""
    if isinstance(text, int) and not isinstance(text, bool):
        raise ValueError(f"{text!r} has no unit: write e.g. '{text}d' or '{text}h'")
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(f"{text!r} is not a duration: use numbers with s, m, h, d or w, e.g. '2d'")
    seconds = sum(int(n) * _UNIT[u] for n, u in _PART.findall(text.lower()))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text that parse_duration reads back as ``value``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNIT[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)
