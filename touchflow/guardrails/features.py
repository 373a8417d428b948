"""What the tone model reads in a stretch of text: hashed n-grams (decision 0031).

Two kinds of feature, hashed into ``DIMENSIONS`` buckets by hashes that are the same in
every process and on every machine (unlike ``hash``):

- lemma unigrams and bigrams within a sentence (CRC-32 of ``w lemma``, ``b lemma
  lemma``; simplemma's lemmas, as the lexicons use), so "forgot", "forgetting",
  "forgotten" are one word;
- character 3–5-grams of the lower-cased stretch (digits read as ``0``), which
  carry what lemmas lose: Russian and Polish endings, imperatives, and parts of words
  a paraphrase shares ("виноват"/"вина", "zapomn…"). Those starting in a word a
  negation reaches (and the space before it) are hashed apart, as its lemma is: "не
  спешите" is the opposite of "спешите", and polite sets say it often (version 4).

A stretch's vector is binary (a feature there or not), each kind scaled to unit length
and weighted (``WORD_WEIGHT``), so a long stretch is not louder than a short one.
The training script (``bench/tone_train.py``) and the check share this code; changing
it means retraining (``VERSION`` is stored with the weights and checked on load).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from touchflow.guardrails.tokens import Token

VERSION = 4
_BITS = 22
DIMENSIONS = 1 << _BITS
CHAR_SIZES = (3, 4, 5)
WORD_WEIGHT = 2.0  # the lemma block against the character block (each of unit length)
# Negations of the three languages (the lexicons' lists, less the rarer words).
NEGATIONS = frozenset({"not", "no", "never", "без", "не", "нет", "ни", "никогда", "nie",
                       "bez", "ani", "nigdy"})
NEGATION_REACH = 3
_DIGITS = re.compile(r"\d")
_SPACES = re.compile(r"\s+")
_MULTIPLIER = np.uint64(1_000_003)
_SALTS = {n: np.uint64(0x9E3779B97F4A7C15 * n % (1 << 64)) for n in CHAR_SIZES}
_NEGATED_SALT = np.uint64(0xD6E8FEB86659FD93)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(64 - _BITS)


def names(tokens: Sequence[Token]) -> list[str]:
    """The word features of a stretch whose words are ``tokens``: lemmas (marked
    ``not:`` up to ``NEGATION_REACH`` words after a negation in the same sentence, so
    "you don't have to" is not read as "you have to") and the pairs of neighbouring
    lemmas in one sentence. The first ``len(tokens)`` are the words, in order."""
    words = ["<n>" if t.is_number else t.lemma for t in tokens]
    found = [f"w not:{word}" if reached else f"w {word}"
             for word, reached in zip(words, negated(tokens), strict=True)]
    for left, right, a, b in zip(tokens, tokens[1:], words, words[1:], strict=False):
        if left.sentence == right.sentence:
            found.append(f"b {a} {b}")
    return found


def negated(tokens: Sequence[Token]) -> list[bool]:
    """For each word, whether a negation before it in its sentence reaches it (up to
    ``NEGATION_REACH`` words after the negation)."""
    reached = []
    negated_until = (-1, -1)  # (sentence, last word index the negation reaches)
    for i, token in enumerate(tokens):
        reached.append(negated_until[0] == token.sentence and i <= negated_until[1])
        if token.surface in NEGATIONS:
            negated_until = (token.sentence, i + NEGATION_REACH)
    return reached


def bucket(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) & (DIMENSIONS - 1)


def _plain(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, npt.NDArray[np.uint64]]:
    """The text as the n-grams read it — lower case, digits as ``0``, runs of spaces
    as one, a space at each end — and for each of its characters 1 where it is in one
    of ``spans`` (offsets into ``text``) or is the space before such a character."""
    lowered = _DIGITS.sub("0", text.lower().replace("’", "'"))
    if not spans or len(lowered) != len(text):  # lower() lengthened a letter: no marks
        plain = " " + _SPACES.sub(" ", lowered).strip() + " "
        return plain, np.zeros(len(plain), dtype=np.uint64)
    inside = bytearray(len(text))
    for start, end in spans:
        inside[start:end] = b"\x01" * (end - start)
    chars, marks = [" "], [0]
    for char, mark in zip(lowered, inside, strict=True):
        if not char.isspace():
            if mark and chars[-1] == " ":
                marks[-1] = 1
            chars.append(char)
            marks.append(mark)
        elif chars[-1] != " ":
            chars.append(" ")
            marks.append(0)
    if chars[-1] != " ":
        chars.append(" ")
        marks.append(0)
    return "".join(chars), np.array(marks, dtype=np.uint64)


def characters(text: str, negated_spans: Sequence[tuple[int, int]] = ()) -> npt.NDArray[np.int64]:
    """The distinct buckets of the character n-grams of ``text``: a polynomial hash of
    the code points (unsigned 64-bit, wrapping, so the same on every machine), mixed
    and cut to ``DIMENSIONS``; numpy does all n-grams of a size at once. An n-gram
    starting in ``negated_spans`` (offsets into ``text``) is salted apart."""
    plain, marks = _plain(text, negated_spans)
    points = np.frombuffer(plain.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    found = []
    with np.errstate(over="ignore"):
        h = points
        for n in range(2, max(CHAR_SIZES) + 1):
            h = h[:-1] * _MULTIPLIER + points[n - 1:]  # the n-gram starting at each place
            if n in CHAR_SIZES:
                salted = h + _SALTS[n] + marks[:len(h)] * _NEGATED_SALT
                found.append((salted * _MIX) >> _SHIFT)
    if not found:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(found)).astype(np.int64)


def vector(text: str, tokens: Sequence[Token]) -> tuple[npt.NDArray[np.int64],
                                                        npt.NDArray[np.float64]]:
    """The stretch's nonzero buckets (the words', then the characters') and values."""
    words = np.unique(np.fromiter((bucket(n) for n in names(tokens)), dtype=np.int64))
    base = tokens[0].start if tokens else 0  # ``text`` starts at the stretch's first word
    chars = characters(text, [(t.start - base, t.end - base)
                              for t, no in zip(tokens, negated(tokens), strict=True) if no])
    # A word and a character n-gram may share a bucket: the key is then listed twice
    # and its values add up in a dot product, as in the training matrix.
    keys = np.concatenate([words, chars])
    values = np.concatenate([
        np.full(len(words), WORD_WEIGHT / max(len(words), 1) ** 0.5),
        np.full(len(chars), 1.0 / max(len(chars), 1) ** 0.5)])
    return keys, values
