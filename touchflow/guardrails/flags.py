"""A finding of the tone check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    """``text[start:end]`` is the stretch that was found (character offsets into the
    text as given); ``words`` are the words in it that the lexicon entry matched (a
    phrase may skip a word, e.g. "you *really* must"). ``why`` says what it does to
    the customer, ``suggestion`` a kinder wording, both in the text's language."""

    category: str
    start: int
    end: int
    words: tuple[str, ...]
    why: str
    suggestion: str

    def as_json(self) -> dict[str, object]:
        """The shape ``touchflow tone check`` prints."""
        return {
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "why": self.why,
            "suggestion": self.suggestion,
        }
