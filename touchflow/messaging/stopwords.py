"""What a customer writes to stop: every channel, every language we speak.

A message that *is* a stop word (after trimming, case-folding and dropping punctuation)
stops; a sentence that merely contains one ("don't stop the deliveries!") does not.
A stop word followed by "all" / "всё" / "wszystko" stops every channel.
"""

from __future__ import annotations

import re
import unicodedata

STOP = {
    # en
    "stop", "unsubscribe", "stopall", "cancel", "end", "quit", "opt out", "optout",
    # ru
    "стоп", "отписаться", "отписка", "отпишите", "отпишите меня", "хватит",
    "не пишите", "больше не пишите",
    # pl
    "wypisz", "wypisz mnie", "wypisz się", "rezygnuję", "rezygnuje", "nie pisz", "koniec",
}
ALL_WORDS = {"all", "всё", "все", "везде", "wszystko", "wszędzie", "wszedzie"}

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold().replace("ё", "е")
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


_STOP = {_clean(w) for w in STOP}
_ALL = {_clean(w) for w in ALL_WORDS}


def stop_request(text: str) -> tuple[bool, bool]:
    """(is a stop request, covers all channels)."""
    words = _clean(text)
    if not words or len(words) > 40:
        return False, False
    if words in _STOP:
        return True, words == "stopall"
    head, _sep, tail = words.rpartition(" ")
    if head in _STOP and tail in _ALL:
        return True, True
    return False, False
