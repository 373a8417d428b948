"""Shouting: words in capitals and runs of exclamation marks.

A word in capitals of three letters or more is shouting unless the lexicon lists it
as an acronym (SMS, PLN, USD, STOP…); two-letter capitals ("OK", "TV") only next to
another shouted word. A word of up to four letters that is neither in the language's
dictionary nor in the lexicon is an acronym too (SPF, HDMI, RRSO, ГРМ: a store's
texts are full of them), and a lone word in capitals just after a code word ("code
SPRING", "промокод ЛЕТО") or a quotation mark is a code to type, not a shout. One "!"
is friendly; "!!" and "?!?" are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from touchflow.guardrails.flags import Flag
from touchflow.guardrails.lexicon import Lexicon
from touchflow.guardrails.tokens import QUOTE, Token, known, lemma

_MARKS = re.compile(r"!{2,}|[!?]{3,}")
_LONG = 3
_ACRONYM = 4  # an unknown word in capitals this short or shorter reads as an acronym
_CODE_REACH = 2  # words between a code word and the code ("kod rabatowy ZIMA")


def shouting(text: str, tokens: list[Token], lexicon: Lexicon) -> Iterator[Flag]:
    why, suggestion = lexicon.advice.get("shouting", ("", ""))
    for start, end in [*_capitals(text, tokens, lexicon), *_marks(text)]:
        yield Flag("shouting", start, end, (text[start:end],), why, suggestion)


def _marks(text: str) -> Iterator[tuple[int, int]]:
    for found in _MARKS.finditer(text):
        yield found.start(), found.end()


def _capitals(text: str, tokens: list[Token], lexicon: Lexicon) -> Iterator[tuple[int, int]]:
    """Runs of neighbouring words in capitals (in one sentence) that shout."""
    run: list[tuple[int, int, str]] = []
    first = 0  # the index in ``tokens`` of the run's first word
    for index, (start, end, word, sentence) in _words(text, tokens):
        if not _in_capitals(word) or (run and sentence != tokens[first].sentence):
            if run and _shouts(run, lexicon, _before(tokens, first)):
                yield run[0][0], run[-1][1]
            run = []
        if _in_capitals(word):
            if not run:
                first = index
            run.append((start, end, word))
    if run and _shouts(run, lexicon, _before(tokens, first)):
        yield run[0][0], run[-1][1]


def _words(text: str, tokens: list[Token]) -> Iterator[tuple[int, tuple[int, int, str, int]]]:
    """Each word's place once (a contraction's parts share one), with the index of its
    first token; quotation marks are passed over."""
    seen: set[tuple[int, int]] = set()
    for index, token in enumerate(tokens):
        if token.surface != QUOTE and (token.start, token.end) not in seen:
            seen.add((token.start, token.end))
            yield index, (token.start, token.end, text[token.start:token.end], token.sentence)


def _before(tokens: list[Token], first: int) -> list[Token]:
    """Up to ``_CODE_REACH`` + 1 tokens before the run, in its sentence, nearest first."""
    sentence = tokens[first].sentence
    return [t for t in reversed(tokens[max(0, first - _CODE_REACH - 1):first])
            if t.sentence == sentence]


def _in_capitals(word: str) -> bool:
    # "RTX4090" is a model, not a shout: letters only (and an apostrophe: "DON'T").
    letters = word.replace("'", "").replace("’", "")
    return len(letters) >= 2 and letters.isalpha() and letters.isupper()


def _shouts(run: list[tuple[int, int, str]], lexicon: Lexicon, before: list[Token]) -> bool:
    if len(run) == 1 and before and (before[0].surface == QUOTE or any(
            t.lemma in lexicon.codes or t.surface in lexicon.codes for t in before)):
        return False
    loud = [w for _s, _e, w in run
            if w.upper() not in lexicon.acronyms and not _acronym(w, lexicon)]
    return any(len(w) >= _LONG for w in loud) or len(loud) >= 2


def _acronym(word: str, lexicon: Lexicon) -> bool:
    """A short word in capitals that is no word of the language: SPF, HDMI, ГРМ."""
    lower = word.lower().replace("’", "'")
    return (len(lower) <= _ACRONYM and not known(lower, lexicon.language)
            and lower not in lexicon.vocabulary
            and lemma(lower, lexicon.language) not in lexicon.vocabulary)
