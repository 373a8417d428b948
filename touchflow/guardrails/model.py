"""The tone model: a small trained classifier shipped as data (decision 0031, fourth round).

Phrases and clause rules find the ways of saying a behaviour that their writer thought
of; a fresh writer's wording is missed. The model reads the same words differently: a
logistic regression over hashed lemma and character n-grams (``features.py``), trained
on every labelled set in ``bench/tone/`` by ``python -m bench.tone_train``, gives the
probability that a stretch "needs a second look" (win–lose or pushy rather than
polite), and a second one (softmax) says which of the categories it most resembles, so
the flag carries that category's ``why`` and ``suggestion``.

The weights are ``models/{en,ru,pl}.npz`` (a few MB, loaded once a process on the first
check of a language): only the buckets seen in at least two training phrases are kept.
Inference is a sorted look-up and a dot product, numpy only.

A message is read a sentence or two at a time (the training phrases are that long), so
one bad sentence in a long polite message is not averaged away; the flag spans the
sentence that scored highest and names its most telling words.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from touchflow.guardrails import features
from touchflow.guardrails.tokens import Token

BUILT_IN = Path(__file__).with_name("models")
WINDOW = 2  # sentences read together
MIN_KNOWN = 0.5  # share of a stretch's words with a weight for the model to flag it alone
_TOP_WORDS = 3

Floats = npt.NDArray[np.float32]


class ModelError(ValueError):
    """A weights file that cannot be used (built for other features, or damaged)."""


@dataclass(frozen=True)
class Assessment:
    """The stretch of a text the model found worst, with its features."""

    probability: float
    stretch: tuple[Token, ...]
    keys: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Reading:
    """What the model made of a text: the probability of its worst stretch, the
    category it resembles most, the sentence that drove it and the telling words."""

    probability: float
    category: str
    start: int
    end: int
    words: tuple[Token, ...]


@dataclass(frozen=True)
class Model:
    language: str
    keys: npt.NDArray[np.int64]  # sorted buckets with a weight
    binary: Floats  # weight per bucket: bad (> 0) against polite
    binary_bias: float
    category: Floats  # len(keys) × len(categories)
    category_bias: Floats
    categories: tuple[str, ...]
    threshold: float  # a probability at or above it is flagged
    rule_veto: float  # a clause rule's flag is kept only at or above it
    phrase_veto: float  # a phrase's flag likewise (shouting is never vetoed)

    def probability(self, text: str, tokens: Sequence[Token]) -> float:
        """The probability that ``text`` (one stretch) is win–lose or pushy."""
        return _sigmoid(self._binary(*features.vector(text, tokens)))

    def knows(self, found: Assessment) -> bool:
        """Whether the stretch reads as the model's language: at least ``MIN_KNOWN`` of
        its words have a weight. Of the phrases of three writers the model was not
        trained on, none fell below half (1st percentile 0.58–0.77); an English reply
        read as Polish or Russian knows 0–8% — its probability says nothing."""
        words = features.names(found.stretch)[:len(found.stretch)]
        keys = np.fromiter((features.bucket(n) for n in words), dtype=np.int64,
                           count=len(words))
        at, _rows = self._rows(keys)
        return bool(at.mean() >= MIN_KNOWN) if len(keys) else False

    def assess(self, text: str, tokens: Sequence[Token]) -> Assessment | None:
        """The stretch of ``text`` (a window of up to ``WINDOW`` sentences) with the
        highest probability; ``None`` for a text without words."""
        best: Assessment | None = None
        for stretch in windows(tokens):
            part = text[stretch[0].start:stretch_end(text, tokens, stretch)]
            keys, values = features.vector(part, stretch)
            p = _sigmoid(self._binary(keys, values))
            if best is None or p > best.probability:
                best = Assessment(p, tuple(stretch), keys, values)
        return best

    def explain(self, found: Assessment) -> Reading:
        """Which category the stretch resembles most, the sentence in it that drove
        the score and its most telling words."""
        at, rows = self._rows(found.keys)
        scores = found.values[at] @ self.category[rows] + self.category_bias
        # Shouting is capitals and marks, which the model never sees (it reads the text
        # in lower case): the lexicon's alone to find, never the model's category.
        scores[list(self.categories).index("shouting")] = -np.inf
        sentence = self._driving_sentence(found.stretch)
        return Reading(found.probability, self.categories[int(np.argmax(scores))],
                       sentence[0].start, sentence[-1].end, self._telling(sentence))

    def _binary(self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> float:
        at, rows = self._rows(keys)
        return float(values[at] @ self.binary[rows]) + self.binary_bias

    def _rows(self, keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_],
                                                           npt.NDArray[np.int64]]:
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[at] == keys
        return found, at[found]

    def _word_weights(self, tokens: Sequence[Token]) -> npt.NDArray[np.float64]:
        """Each word's lemma weight, plus half of each lemma pair it is part of."""
        names = features.names(tokens)
        keys = np.fromiter((features.bucket(n) for n in names), dtype=np.int64,
                           count=len(names))
        at, rows = self._rows(keys)
        weight = np.zeros(len(names))
        weight[at] = self.binary[rows]
        result = weight[:len(tokens)].copy()
        pair = len(tokens)
        for i, (left, right) in enumerate(zip(tokens, tokens[1:], strict=False)):
            if left.sentence == right.sentence:  # names() has a pair here, in this order
                result[i] += weight[pair] / 2
                result[i + 1] += weight[pair] / 2
                pair += 1
        return result

    def _driving_sentence(self, stretch: Sequence[Token]) -> Sequence[Token]:
        sentences: dict[int, list[Token]] = {}
        for token in stretch:
            sentences.setdefault(token.sentence, []).append(token)
        if len(sentences) == 1:
            return stretch
        return max(sentences.values(), key=lambda s: float(self._word_weights(s).sum()))

    def _telling(self, sentence: Sequence[Token]) -> tuple[Token, ...]:
        weights = self._word_weights(sentence)
        ranked = [int(i) for i in np.argsort(-weights, kind="stable")]
        chosen = sorted(i for i in ranked[:_TOP_WORDS] if weights[i] > 0) or ranked[:1]
        return tuple(sentence[i] for i in chosen)


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def windows(tokens: Sequence[Token]) -> list[Sequence[Token]]:
    """Runs of up to ``WINDOW`` consecutive sentences (the whole text if it is no
    longer)."""
    sentences: list[list[Token]] = []
    for token in tokens:
        if not sentences or sentences[-1][-1].sentence != token.sentence:
            sentences.append([])
        sentences[-1].append(token)
    if len(sentences) <= WINDOW:
        return [list(tokens)] if tokens else []
    return [[t for s in sentences[i:i + WINDOW] for t in s]
            for i in range(len(sentences) - WINDOW + 1)]


def stretch_end(text: str, tokens: Sequence[Token], stretch: Sequence[Token]) -> int:
    """Where the stretch's text ends: before the next sentence's first word, so its
    closing punctuation ("!!") is read with it."""
    last = stretch[-1]
    following = [t.start for t in tokens if t.start >= last.end and t.sentence > last.sentence]
    return min(following) if following else len(text)


def save(model: Model, path: Path) -> None:
    """Write ``model`` so that the same weights give the same bytes (a fixed zip
    date, arrays in a fixed order): the training script is checked by a checksum."""
    meta = {"version": features.VERSION, "dimensions": features.DIMENSIONS,
            "language": model.language, "categories": list(model.categories),
            "binary_bias": model.binary_bias, "threshold": model.threshold,
            "rule_veto": model.rule_veto, "phrase_veto": model.phrase_veto}
    arrays = {"keys": model.keys.astype(np.int32), "binary": model.binary.astype(np.float32),
              "category": model.category.astype(np.float16),
              "category_bias": model.category_bias.astype(np.float32),
              "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def read(path: Path) -> Model:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if (meta["version"], meta["dimensions"]) != (features.VERSION, features.DIMENSIONS):
                raise ModelError(f"{path}: built for features {meta['version']}, "
                                 f"{meta['dimensions']} buckets; retrain it "
                                 "(python -m bench.tone_train)")
            return Model(
                language=str(meta["language"]),
                keys=data["keys"].astype(np.int64),
                binary=data["binary"].astype(np.float32),
                binary_bias=float(meta["binary_bias"]),
                category=data["category"].astype(np.float32),
                category_bias=data["category_bias"].astype(np.float32),
                categories=tuple(meta["categories"]),
                threshold=float(meta["threshold"]),
                rule_veto=float(meta["rule_veto"]),
                phrase_veto=float(meta["phrase_veto"]),
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"{path}: {exc}") from exc


@lru_cache(maxsize=8)
def load(language: str) -> Model | None:
    """The shipped model of ``language``, read once a process; ``None`` if there is
    none (the check then runs on phrases and rules alone)."""
    path = BUILT_IN / f"{language}.npz"
    return read(path) if path.is_file() else None
