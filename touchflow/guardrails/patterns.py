"""A lexicon phrase read into elements that match words.

A phrase is words separated by spaces; each word of a phrase may be:

- ``word`` — any form of it (its lemma, or the very form written);
- ``=word`` — only this form ("=musisz": "you must", not "we must");
- ``stem*`` — any word beginning so ("винова*"); ``*end`` — any word ending so
  ("обязательно *те": an imperative);
- ``<n>`` — a number, in digits or a number word of the lexicon's ``numbers``;
- ``<q>`` — a quotation mark ('not <q>' finds 'not "couch"');
- ``a|b|=c`` — any of these;
- ``...`` — up to three other words may stand here.

Between two words of a phrase one other word may stand unless the entry says ``gap``:
"you must" finds "you really must". A phrase never spans two sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from touchflow.guardrails.tokens import QUOTE, Token, lemma, normal

WIDE_GAP = 3
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


@dataclass(frozen=True)
class Element:
    lemmas: frozenset[str]
    surfaces: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    number: bool
    gap_before: int  # how many other words may stand between the previous element and this

    def matches(self, token: Token) -> bool:
        return (
            token.lemma in self.lemmas
            or token.surface in self.surfaces
            or (self.number and token.is_number)
            or token.surface.startswith(self.prefixes)
            or token.surface.endswith(self.suffixes)
        )

    @property
    def keys(self) -> frozenset[str]:
        """The words a token must be (as lemma or form) to start a match here; empty when
        a prefix, a suffix or a number can start it."""
        if self.prefixes or self.suffixes or self.number:
            return frozenset()
        return self.lemmas | self.surfaces


class PatternError(ValueError):
    pass


def parse(
    phrase: str, language: str, gap: int, expansions: Mapping[str, tuple[str, ...]]
) -> tuple[Element, ...]:
    """The elements of ``phrase``; raises ``PatternError`` for an empty one."""
    elements: list[Element] = []
    next_gap = gap
    for word in _expanded(phrase.split(), expansions):
        if word == "...":
            next_gap = WIDE_GAP
            continue
        elements.append(_element(word, language, 0 if not elements else next_gap))
        next_gap = gap
    if not elements:
        raise PatternError(f"phrase {phrase!r} has no words")
    return tuple(elements)


def _expanded(words: list[str], expansions: Mapping[str, tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for word in words:
        for part in _HYPHEN.split(word):  # the text's words split there too: "tick-tock"
            out.extend(expansions.get(normal(part), (part,)))
    return out


def _element(word: str, language: str, gap_before: int) -> Element:
    lemmas: set[str] = set()
    surfaces: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    number = False
    for option in normal(word).split("|"):
        if option == "<n>":
            number = True
        elif option == QUOTE:
            surfaces.add(QUOTE)
        elif option.endswith("*") and len(option) > 2:
            prefixes.append(option[:-1])
        elif option.startswith("*") and len(option) > 2:
            suffixes.append(option[1:])
        elif option.startswith("="):
            surfaces.add(option[1:])
        elif option:
            surfaces.add(option)
            lemmas.add(lemma(option, language))
        else:
            raise PatternError(f"empty option in {word!r}")
    return Element(
        frozenset(lemmas), frozenset(surfaces), tuple(prefixes), tuple(suffixes), number,
        gap_before,
    )


def match(
    elements: tuple[Element, ...], tokens: list[Token], first: int,
    breaks: Callable[[Token], bool] = lambda token: False,
) -> tuple[int, ...] | None:
    """The indexes of the tokens matching ``elements`` from ``tokens[first]`` on, or
    None. A skipped word for which ``breaks`` is true (a negation) stops the match."""
    if not elements[0].matches(tokens[first]):
        return None
    found = [first]
    sentence = tokens[first].sentence
    for element in elements[1:]:
        at = _next(element, tokens, found[-1] + 1, sentence, breaks)
        if at is None:
            return None
        found.append(at)
    return tuple(found)


def _next(
    element: Element, tokens: list[Token], start: int, sentence: int,
    breaks: Callable[[Token], bool],
) -> int | None:
    for at in range(start, min(start + element.gap_before + 1, len(tokens))):
        token = tokens[at]
        if token.sentence != sentence:
            return None
        if element.matches(token):
            return at
        if breaks(token):
            return None
    return None
