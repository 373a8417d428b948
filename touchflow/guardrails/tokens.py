"""Words of a text with their places, sentences and lemmas.

A lemma comes from ``simplemma`` (its dictionaries ship in the package: nothing is
downloaded), so "виноваты", "виноват" and "виновата" all read "виноватый" and a
lexicon entry written in one form finds the others.

Its dictionaries are read in simplemma's low-memory form: the compressed stream kept
as one block with an index, not a Python dict of every form. The lemmas are the same
(checked on every word of the labelled sets); a process that checks all three
languages holds ~95 MB instead of ~690 MB and loads them in ~4 s instead of ~9 s, at
~15–30 µs instead of ~2 µs for a word not seen before (remembered after).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import simplemma

# A word: letters and digits, with inner apostrophes ("don't", "you're").
# A sentence ends at . ! ? ; … followed by a space or the end, or at a line break.
# A quotation mark is a token of its own, "<q>": 'not "couch"', "а не «диван»".
_PIECES = re.compile(
    r"(?P<word>[^\W_]+(?:['’][^\W_]+)*)|(?P<stop>[.!?;…]+(?=\s|$)|\n)|(?P<quote>[«»\"„“”])"
)
QUOTE = "<q>"


@dataclass(frozen=True)
class Token:
    surface: str  # lower case, apostrophes as '
    lemma: str
    start: int  # offsets of the word in the original text
    end: int
    sentence: int
    is_number: bool = False  # digits, or a number word of the lexicon ("three", "три")


@lru_cache(maxsize=200_000)
def lemma(word: str, language: str) -> str:
    """The dictionary form of one lower-case word (the word itself if unknown)."""
    return simplemma.lemmatize(word, lang=language, low_memory=True).lower()


@lru_cache(maxsize=50_000)
def known(word: str, language: str) -> bool:
    """Whether one lower-case word is in the language's dictionary."""
    return simplemma.is_known(word, lang=language, low_memory=True)


def normal(word: str) -> str:
    return word.lower().replace("’", "'")


def tokenize(
    text: str, language: str, expansions: Mapping[str, tuple[str, ...]],
    numbers: frozenset[str] = frozenset(),
) -> list[Token]:
    """The words of ``text``; a contraction the lexicon expands ("don't" → "do not")
    becomes several tokens sharing the contraction's place."""
    tokens: list[Token] = []
    sentence = 0
    for piece in _PIECES.finditer(text):
        if piece.lastgroup == "stop":
            sentence += 1
            continue
        if piece.lastgroup == "quote":
            tokens.append(Token(QUOTE, QUOTE, piece.start(), piece.end(), sentence))
            continue
        word = normal(piece.group())
        for part in expansions.get(word, (word,)):
            base = lemma(part, language)
            number = part.isdigit() or part in numbers or base in numbers
            tokens.append(Token(part, base, piece.start(), piece.end(), sentence, number))
    return tokens
