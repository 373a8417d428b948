"""Shouting: words in capitals and runs of exclamation marks.

A word in capitals of three letters or more is shouting unless the lexicon lists it
as an acronym (SMS, PLN, USD, STOP…); two-letter capitals ("OK", "TV") only next to
another shouted word. One "!" is friendly; "!!" and "?!?" are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from touchflow.guardrails.flags import Flag
from touchflow.guardrails.lexicon import Lexicon
from touchflow.guardrails.tokens import Token

_MARKS = re.compile(r"!{2,}|[!?]{3,}")
_LONG = 3


def shouting(text: str, tokens: list[Token], lexicon: Lexicon) -> Iterator[Flag]:
    why, suggestion = lexicon.advice.get("shouting", ("", ""))
    for start, end in [*_capitals(text, tokens, lexicon.acronyms), *_marks(text)]:
        yield Flag("shouting", start, end, (text[start:end],), why, suggestion)


def _marks(text: str) -> Iterator[tuple[int, int]]:
    for found in _MARKS.finditer(text):
        yield found.start(), found.end()


def _capitals(
    text: str, tokens: list[Token], acronyms: frozenset[str]
) -> Iterator[tuple[int, int]]:
    """Runs of neighbouring words in capitals (in one sentence) that shout."""
    run: list[tuple[int, int, str]] = []
    sentence = -1
    for start, end, word, in_sentence in _words(text, tokens):
        if not _in_capitals(word) or (run and in_sentence != sentence):
            if run and _shouts(run, acronyms):
                yield run[0][0], run[-1][1]
            run = []
        if _in_capitals(word):
            run.append((start, end, word))
            sentence = in_sentence
    if run and _shouts(run, acronyms):
        yield run[0][0], run[-1][1]


def _words(text: str, tokens: list[Token]) -> Iterator[tuple[int, int, str, int]]:
    places = dict.fromkeys((t.start, t.end, t.sentence) for t in tokens)
    for start, end, sentence in places:
        yield start, end, text[start:end], sentence


def _in_capitals(word: str) -> bool:
    # "RTX4090" is a model, not a shout: letters only (and an apostrophe: "DON'T").
    letters = word.replace("'", "").replace("’", "")
    return len(letters) >= 2 and letters.isalpha() and letters.isupper()


def _shouts(run: list[tuple[int, int, str]], acronyms: frozenset[str]) -> bool:
    loud = [w for _s, _e, w in run if w.upper() not in acronyms]
    return any(len(w) >= _LONG for w in loud) or len(loud) >= 2
