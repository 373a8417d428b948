"""Opening a CSV file for import: plain or gzipped, in any byte-per-character encoding or
UTF-8, one physical line at a time, so that a byte the encoding cannot read spoils only
its own line (which the reader reports with its true number) and never the file.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_ENCODING = "utf-8"
# Encodings whose characters may span a newline byte cannot be split into lines as bytes.
_WIDE = ("utf-16", "utf-32")


class EncodingError(ValueError):
    """The encoding named cannot be used to read a file."""


@dataclass
class Source:
    """The file's lines as text, how far through the file on disk we are, and which
    physical lines (the header is line 1) held bytes the encoding could not read."""

    lines: Iterable[str]
    size: int
    position: Callable[[], int]
    undecodable: dict[int, str] = field(default_factory=dict)


def check_encoding(name: str | None) -> str:
    """The codec's canonical name; EncodingError naming ``--encoding`` if unusable."""
    wanted = name or DEFAULT_ENCODING
    try:
        codec = codecs.lookup(wanted).name
    except LookupError:
        raise EncodingError(
            f"--encoding: unknown encoding {wanted!r}; for example utf-8, cp1250, cp1251, "
            "latin-1."
        ) from None
    if codec.startswith(_WIDE):
        raise EncodingError(
            f"--encoding: {wanted!r} is not read here; save the file as UTF-8 (or a one-byte "
            "encoding such as cp1250, cp1251, latin-1)."
        )
    return codec


def is_gzip(path: Path) -> bool:
    """Gzipped if the name says so or the first two bytes are gzip's magic number."""
    if path.name.endswith(".gz"):
        return True
    with path.open("rb") as raw:
        return raw.read(2) == GZIP_MAGIC


def decode_lines(raw: Iterable[bytes], encoding: str, undecodable: dict[int, str]) -> Iterator[str]:
    """Each physical line decoded on its own (line endings kept, as ``csv`` needs them).

    A line the encoding cannot read is decoded with replacement characters and its
    number recorded in ``undecodable`` with the reason, for the reader to refuse it.
    """
    strip_bom = encoding == "utf-8"
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as exc:
            undecodable[number] = _reason(line, exc, encoding)
            text = line.decode(encoding, errors="replace")
        if strip_bom and number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


def _reason(line: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    byte = line[exc.start : exc.start + 1].hex().upper()
    return (
        f"Not valid {encoding} text: byte 0x{byte} at position {exc.start + 1}; "
        "if the file is in another encoding, give --encoding (e.g. cp1250, cp1251, latin-1)."
    )


@contextmanager
def open_source(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[Source]:
    """Open ``path`` for reading CSV text in ``encoding`` (a BOM tolerated in UTF-8).

    Progress is the position in the file on disk, compressed or not, so a gzipped
    file needs no second pass to count its lines.
    """
    size = path.stat().st_size
    gz = is_gzip(path)
    with path.open("rb") as raw:
        binary: IO[bytes] = (
            gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        )
        undecodable: dict[int, str] = {}
        yield Source(
            lines=decode_lines(binary, encoding, undecodable),
            size=size,
            position=raw.tell,
            undecodable=undecodable,
        )
