"""What the tone model reads in a stretch of text: hashed n-grams (decision 0031).

Two kinds of feature, hashed into ``DIMENSIONS`` buckets by hashes that are the same in
every process and on every machine (unlike ``hash``):

- lemma unigrams and bigrams within a sentence (CRC-32 of ``w lemma``, ``b lemma
  lemma``; simplemma's lemmas, as the lexicons use), so "forgot", "forgetting",
  "forgotten" are one word;
- character 3–5-grams of the lower-cased stretch (digits read as ``0``), which
  carry what lemmas lose: Russian and Polish endings, imperatives, and parts of words
  a paraphrase shares ("виноват"/"вина", "zapomn…").

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

VERSION = 3
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
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(64 - _BITS)


def names(tokens: Sequence[Token]) -> list[str]:
    """The word features of a stretch whose words are ``tokens``: lemmas (marked
    ``not:`` up to ``NEGATION_REACH`` words after a negation in the same sentence, so
    "you don't have to" is not read as "you have to") and the pairs of neighbouring
    lemmas in one sentence. The first ``len(tokens)`` are the words, in order."""
    words = ["<n>" if t.is_number else t.lemma for t in tokens]
    found = []
    negated_until = (-1, -1)  # (sentence, last word index the negation reaches)
    for i, (token, word) in enumerate(zip(tokens, words, strict=True)):
        reached = negated_until[0] == token.sentence and i <= negated_until[1]
        found.append(f"w not:{word}" if reached else f"w {word}")
        if token.surface in NEGATIONS:
            negated_until = (token.sentence, i + NEGATION_REACH)
    for left, right, a, b in zip(tokens, tokens[1:], words, words[1:], strict=False):
        if left.sentence == right.sentence:
            found.append(f"b {a} {b}")
    return found


def bucket(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) & (DIMENSIONS - 1)


def characters(text: str) -> npt.NDArray[np.int64]:
    """The distinct buckets of the character n-grams of ``text``: a polynomial hash of
    the code points (unsigned 64-bit, wrapping, so the same on every machine), mixed
    and cut to ``DIMENSIONS``; numpy does all n-grams of a size at once."""
    plain = " " + _SPACES.sub(" ", _DIGITS.sub("0", text.lower().replace("’", "'"))).strip() + " "
    points = np.frombuffer(plain.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    found = []
    with np.errstate(over="ignore"):
        h = points
        for n in range(2, max(CHAR_SIZES) + 1):
            h = h[:-1] * _MULTIPLIER + points[n - 1:]  # the n-gram starting at each place
            if n in CHAR_SIZES:
                found.append(((h + _SALTS[n]) * _MIX) >> _SHIFT)
    if not found:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(found)).astype(np.int64)


def vector(text: str, tokens: Sequence[Token]) -> tuple[npt.NDArray[np.int64],
                                                        npt.NDArray[np.float64]]:
    """The stretch's nonzero buckets (the words', then the characters') and values."""
    words = np.unique(np.fromiter((bucket(n) for n in names(tokens)), dtype=np.int64))
    chars = characters(text)
    # A word and a character n-gram may share a bucket: the key is then listed twice
    # and its values add up in a dot product, as in the training matrix.
    keys = np.concatenate([words, chars])
    values = np.concatenate([
        np.full(len(words), WORD_WEIGHT / max(len(words), 1) ** 0.5),
        np.full(len(chars), 1.0 / max(len(chars), 1) ** 0.5)])
    return keys, values
