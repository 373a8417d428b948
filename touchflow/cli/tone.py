"""``touchflow tone check``: the tone and pushiness check (issue 12) on texts in bulk,
for a business's own CI: one text a line in, one JSON object a line out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from touchflow.guardrails import LANGUAGES, LexiconError, check

app = typer.Typer(help="Check texts for win–lose and pushy wording.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@app.command("check")
def check_texts(
    file: Annotated[Path | None, typer.Argument(
        help="A file of texts, one a line (UTF-8); standard input when left out.")] = None,
    lang: Annotated[str, typer.Option(
        "--lang", metavar="en|ru|pl", help="The texts' language.")] = "",
    lexicon: Annotated[list[Path] | None, typer.Option(
        "--lexicon", metavar="DIR",
        help="A folder with the business's own en.yaml / ru.yaml / pl.yaml, merged into "
             "the built-in lexicon (repeatable; TOUCHFLOW_TONE_LEXICONS is also read).")] = None,
) -> None:
    """Print, for each line, {"text": …, "flags": [{"category", "start", "end", "why",
    "suggestion"}]}: start and end are character offsets into the text; an empty list
    means the text reads fine."""
    if lang not in LANGUAGES:
        _fail(f"--lang: {lang!r} is not a language the check knows; use one of: "
              f"{', '.join(LANGUAGES)}" if lang else
              f"--lang is required: one of {', '.join(LANGUAGES)}")
    if file is None:
        _print_checked(sys.stdin, lang, lexicon)
        return
    try:
        with file.open(encoding="utf-8") as stream:
            _print_checked(stream, lang, lexicon)
    except OSError as exc:
        _fail(f"{file}: cannot read it: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        _fail(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})")


def _print_checked(lines: Iterable[str] | TextIO, lang: str, lexicon: list[Path] | None) -> None:
    extra = tuple(lexicon) if lexicon else None
    for line in lines:
        text = line.rstrip("\r\n")
        try:
            flags = check(text, lang, extra)
        except LexiconError as exc:
            _fail(str(exc))
        typer.echo(json.dumps({"text": text, "flags": [f.as_json() for f in flags]},
                              ensure_ascii=False))


def _fail(message: str) -> None:
    err.print(f"[red]{escape(message)}[/red]", highlight=False)
    raise typer.Exit(2)
