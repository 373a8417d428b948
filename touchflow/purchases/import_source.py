"""Opening a CSV file for import: plain or gzipped, with a cheap measure of progress."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Source:
    """A text stream of CSV plus how far through the file on disk we are."""

    text: IO[str]
    size: int
    position: Callable[[], int]


def is_gzip(path: Path) -> bool:
    """Gzipped if the name says so or the first two bytes are gzip's magic number."""
    if path.name.endswith(".gz"):
        return True
    with path.open("rb") as raw:
        return raw.read(2) == GZIP_MAGIC


@contextmanager
def open_source(path: Path) -> Iterator[Source]:
    """Open ``path`` for reading CSV text (UTF-8, BOM tolerated).

    Progress is the position in the file on disk, compressed or not, so a gzipped
    file needs no second pass to count its lines.
    """
    size = path.stat().st_size
    gz = is_gzip(path)
    with path.open("rb") as raw:
        binary: IO[bytes] = (
            gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        )
        # newline="" is what the csv module needs for quoted fields with line breaks.
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
        try:
            yield Source(text=text, size=size, position=raw.tell)
        finally:
            text.detach()
