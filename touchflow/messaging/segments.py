"""How long an SMS is on the air: encoding, length and segments (GSM 03.38 / 3GPP 23.038).

A text made only of the GSM 7-bit default alphabet goes as GSM-7: one septet a
character, two for the extension-table characters (``^ { } \\ [ ~ ] | €`` and form
feed, sent as ESC + char). One such message holds 160 septets; a longer text is cut
into parts of 153 septets (the other 7 carry the concatenation header, UDH), and an
ESC pair is never cut in two.

Any other character (Cyrillic, Polish ą ć ę ł ń ó ś ź ż, emoji, curly quotes) makes the
*whole* message UCS-2: 70 UTF-16 code units alone, 67 a part when concatenated. An emoji
outside the Basic Multilingual Plane is a surrogate pair, two units, and is kept in one
part.

Counted on the text exactly as given: no provider-side "smart encoding" (Twilio may
swap curly quotes for straight ones) and no normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The 128 characters of the default alphabet (ESC, 0x1B, is not text).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs ESC + the character.
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}  # (single message, one part of a long one)


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # GSM7 or UCS2
    characters: int  # what a person counts (code points)
    units: int  # what the network counts: septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # messages billed; 0 for an empty text
    per_segment: int  # the limit that applies: 160/153 septets or 70/67 units


def is_gsm7(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def _cost(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if char in GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def parts(text: str) -> list[str]:
    """The text cut as a phone would send it (one item when it fits a single SMS)."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    single, per_part = LIMITS[encoding]
    if sum(_cost(c, encoding) for c in text) <= single:
        return [text] if text else []
    cut: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = _cost(char, encoding)
        if used + cost > per_part:  # an ESC pair or a surrogate pair stays whole
            cut.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    cut.append("".join(current))
    return cut


def measure(text: str) -> SmsSize:
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = sum(_cost(c, encoding) for c in text)
    single, per_part = LIMITS[encoding]
    count = len(parts(text))
    return SmsSize(
        encoding=encoding,
        characters=len(text),
        units=units,
        segments=count,
        per_segment=single if count <= 1 else per_part,
    )
