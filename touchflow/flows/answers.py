"""What a check-in asks and how a customer's answer is read (no database).

A check-in step declares its answers in the chain file: ``scale`` (1 to 5) or
``yes_no``. The customer answers with a quick-reply button (messengers), a reply
("4", "да", "wszystko ok", "не работает"…: SMS and any chat) or the one-tap rating page
(linked from SMS and e-mail). Buttons carry their label as text, so every way in is
read by ``read``: one table of words per language, no guessing beyond it. A reply that
is not an answer stays a reply for a person to read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

SCALE = "scale"
YES_NO = "yes_no"
KINDS = (SCALE, YES_NO)

HAPPY = "happy"
NEUTRAL = "neutral"
UNHAPPY = "unhappy"

# How long a sent check-in may be answered (by reply or on its rating page).
ANSWER_WINDOW = timedelta(days=14)
# A rating at or below this is unhappy unless the store says otherwise; above 3 happy.
DEFAULT_UNHAPPY_AT_MOST = 2
HAPPY_AT_LEAST = 4

YES, NO = 1, 0

# The buttons: their labels are read back by ``read`` (a tapped button arrives as text).
_YES_NO_LABELS = {
    "en": ("Yes, all good", "No, there is a problem"),
    "ru": ("Да, всё хорошо", "Нет, есть проблема"),
    "pl": ("Tak, wszystko OK", "Nie, jest problem"),
}
_SCALE_LABELS = ("1", "2", "3", "4", "5")

# The line that carries the rating page's link in an SMS or an e-mail.
_LINK_LINES = {
    "en": "Answer in one tap: {url}",
    "ru": "Ответить в одно касание: {url}",
    "pl": "Odpowiedz jednym kliknięciem: {url}",
}

# How an SMS says what to reply (the buttons' labels are too long to list there).
_REPLY_HINTS = {
    SCALE: {"en": "Reply with a number from 1 to 5.", "ru": "Ответьте цифрой от 1 до 5.",
            "pl": "Odpisz cyfrą od 1 do 5."},
    YES_NO: {"en": "Reply YES or NO.", "ru": "Ответьте ДА или НЕТ.",
             "pl": "Odpisz TAK lub NIE."},
}

# Whole replies (after ``_plain``) that answer yes or no, in every language at once: a
# Polish customer may well write "ok", a Russian one "yes". Longer text is a reply.
_YES_WORDS: frozenset[str] = frozenset((
    "yes", "y", "yep", "yeah", "yup", "sure", "ok", "okay", "fine", "good", "great",
    "perfect", "all good", "all ok", "all fine", "all is well", "everything ok",
    "everything is ok", "everything is fine", "everything fine", "yes thanks",
    "yes thank you", "ok thanks", "ok thank you", "fine thanks", "all good thanks",
    "да", "ага", "конечно", "да конечно", "ок", "окей", "хорошо", "отлично", "нормально",
    "всё хорошо", "всё ок", "всё нормально", "всё отлично", "всё в порядке",
    "да всё хорошо", "да спасибо", "всё хорошо спасибо", "спасибо всё хорошо",
    "tak", "dobrze", "super", "świetnie", "wszystko ok", "wszystko dobrze",
    "wszystko w porządku", "w porządku", "tak wszystko ok", "tak dziękuję", "tak dzięki",
    "wszystko gra", "jest ok",
))
_NO_WORDS: frozenset[str] = frozenset((
    "no", "n", "nope", "not really", "not ok", "not good", "not fine", "bad",
    "there is a problem", "problem", "it does not work", "does not work", "doesnt work",
    "it doesnt work", "broken", "it is broken", "not working",
    "нет", "не очень", "не хорошо", "плохо", "есть проблема", "проблема", "не работает",
    "сломалось", "сломался", "сломана", "сломан", "всё плохо", "не в порядке",
    "нет не работает",
    "nie", "nie bardzo", "niedobrze", "źle", "jest problem", "nie działa", "zepsute",
    "zepsuty", "zepsuła się", "zepsuł się", "nie jest ok", "nie wszystko ok",
    "nie jest w porządku",
))
_SCALE_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "один": 1, "одна": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5,
    "jeden": 1, "jedna": 1, "dwa": 2, "dwie": 2, "trzy": 3, "cztery": 4, "pięć": 5,
}
# "4", "4/5", "4 из 5", "4 na 5", "4 of 5", "оценка 4", "ocena 4", "⭐⭐⭐⭐" (read as
# stars before ``_plain`` drops them).
_SCALE_REPLY = re.compile(
    r"^(?:(?:rating|score|оценка|ocena|моя оценка|moja ocena)\s*:?\s*)?"
    r"([1-5])(?:\s*(?:/|из|na|of|out of)\s*5)?$"
)
_STARS = re.compile(r"^(?:\s*[⭐★]\s*){1,5}$")


# Word starts that make a reply to a check-in a complaint (seed 004: get an unhappy
# customer to a person before they write a bad review). Matched at the start of a word
# of the reply (a trailing space: the whole word); a phrase matches as written.
_COMPLAINT_STEMS: tuple[str, ...] = (
    "broken", "broke ", "not work", "doesnt work", "does not work", "damage", "scratch", "refund",
    "return it", "complain", "terrible", "awful", "disappoint", "faulty", "defect",
    "missing", "wrong size", "wrong colour", "wrong color", "late delivery", "never came",
    "слома", "не работа", "брак", "поцарап", "царапин", "поврежд", "возврат", "верните",
    "жалоб", "ужасн", "отвратит", "разочарова", "не хватает", "дефект", "не привезли",
    "не пришл", "обман",
    "zepsu", "nie dział", "uszkodz", "porysowa", "rysa", "rysy", "zwrot", "reklamac",
    "skarg", "okropn", "fataln", "rozczarowa", "brakuje", "wadliw", "wada", "nie dotarł",
    "oszuk",
)


@dataclass(frozen=True)
class Reading:
    """An answer read from a reply: ``value`` 1–5 on a scale, ``YES``/``NO`` on a
    yes/no question; on a scale a worded answer ("всё хорошо") has no number but a mood."""

    value: int | None
    mood: str


def labels(kind: str, language: str) -> tuple[str, ...]:
    """The quick-reply buttons of a check-in asking ``kind``, in ``language``."""
    if kind == SCALE:
        return _SCALE_LABELS
    if kind == YES_NO:
        return _YES_NO_LABELS.get(language, _YES_NO_LABELS["en"])
    return ()


def link_line(language: str, url: str) -> str:
    """The line that offers the rating page in an SMS or e-mail."""
    return _LINK_LINES.get(language, _LINK_LINES["en"]).format(url=url)


def reply_hint(kind: str, language: str) -> str:
    """The line that tells an SMS reader how to answer (every word of it reads back)."""
    hints = _REPLY_HINTS.get(kind, {})
    return hints.get(language, hints.get("en", ""))


def mood_of(kind: str, value: int, unhappy_at_most: int = DEFAULT_UNHAPPY_AT_MOST) -> str:
    """The mood of a chosen answer (a rating ≤ the store's threshold is unhappy)."""
    if kind == YES_NO:
        return HAPPY if value == YES else UNHAPPY
    if value <= unhappy_at_most:
        return UNHAPPY
    return HAPPY if value >= HAPPY_AT_LEAST else NEUTRAL


def choices(kind: str) -> tuple[int, ...]:
    """The values a check-in of ``kind`` may be answered with."""
    return (1, 2, 3, 4, 5) if kind == SCALE else (YES, NO)


def read(kind: str, text: str, unhappy_at_most: int = DEFAULT_UNHAPPY_AT_MOST) -> Reading | None:
    """The answer ``text`` gives to a check-in asking ``kind``; None when it is no answer
    (free text, junk, a number out of range): it then stays a reply."""
    if kind not in KINDS:
        return None
    if kind == SCALE and _STARS.match(text):
        stars = text.count("⭐") + text.count("★")
        return Reading(stars, mood_of(SCALE, stars, unhappy_at_most))
    plain = _plain(text)
    if kind == SCALE:
        number = _scale_value(plain)
        if number is not None:
            return Reading(number, mood_of(SCALE, number, unhappy_at_most))
    if plain in _YES_WORDS:
        return Reading(YES if kind == YES_NO else None, HAPPY)
    if plain in _NO_WORDS:
        return Reading(NO if kind == YES_NO else None, UNHAPPY)
    return None


def complaint(text: str) -> bool:
    """Whether a reply that is no answer reads as a complaint ("диван привезли
    поцарапанный", "the drawer is broken"): it stays a reply for a person, and is
    escalated to one."""
    padded = f" {_plain(text)} "
    return any(f" {stem}" in padded for stem in _STEMS)


def _scale_value(plain: str) -> int | None:
    match = _SCALE_REPLY.match(plain)
    if match:
        return int(match[1])
    return _SCALE_WORDS.get(plain)


def _plain(text: str) -> str:
    """Lower case, ё as е, "don't" as "dont", punctuation, emoji and extra spaces gone
    (a trailing "!" or ")" — a Russian smile — changes nothing); signs stay: "-1" is no
    rating."""
    text = unicodedata.normalize("NFC", text).casefold().replace("ё", "е").replace("’", "'")
    text = text.replace("'", "")
    kept = [ch if ch.isalnum() or ch in "/-+" else " " for ch in text]
    return " ".join("".join(kept).split())


# The word tables are written with ё where Russians write it; ``_plain`` reads both.
# The yes/no buttons' labels are answers too (a tapped button arrives as its label).
_YES_WORDS = frozenset(_plain(w) for w in (*_YES_WORDS, *(y for y, _ in _YES_NO_LABELS.values())))
_NO_WORDS = frozenset(_plain(w) for w in (*_NO_WORDS, *(n for _, n in _YES_NO_LABELS.values())))
_SCALE_WORDS = {_plain(w): v for w, v in _SCALE_WORDS.items()}
_STEMS = tuple(_plain(stem) + (" " if stem.endswith(" ") else "") for stem in _COMPLAINT_STEMS)
