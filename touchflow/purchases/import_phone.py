"""The importer's shortcut for everyday phone numbers written in international form.

``phonenumbers`` costs ~40 µs a number (parse, find the region, match its patterns).
For "+<country code> <digits>" — ASCII digits and single spaces, nothing else — its
verdict follows from its own metadata in the library's own steps, repeated here: the
country code is the first 1–3 digits that name one; the rest is the national number
when it does not start with 0 and no national prefix of the country matches its start
(else the library might strip one); the number's region is the first of the country's
regions whose leading digits match, or, for a region without them, whose patterns know
the number; valid when that region's patterns know it. Only a certain "valid" is
answered (as E.164, "+" and the digits); anything else is None and the caller asks the
library, whose messages stay the ones users see. ``tests/imports/test_plain_phone.py``
compares the two over many numbers of every country.
"""

from __future__ import annotations

import re
from functools import cache

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.phonemetadata import PhoneNumberDesc

_PLAIN_PHONE = re.compile(r"\+[0-9]+(?: [0-9]+)*")
_LONGEST_NATIONAL = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN


def plain_phone(raw: str) -> str | None:
    """The E.164 form of an everyday international number, or None to ask the library."""
    text = raw.strip()
    if len(text) > 40 or not _PLAIN_PHONE.fullmatch(text):
        return None
    digits = text[1:].replace(" ", "")
    if digits[0] == "0":
        return None
    code = next(
        (int(digits[:n]) for n in (1, 2, 3) if int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE),
        None,
    )
    if code is None:
        return None
    national = digits[len(str(code)):]
    if not 2 <= len(national) <= _LONGEST_NATIONAL or national[0] == "0":
        return None
    return f"+{code}{national}" if _valid(code, national) else None


@cache
def _regions(code: int) -> tuple[str | None, tuple[_Region, ...]]:
    """The national prefix the library strips for ``code``, and its regions in order."""
    names = COUNTRY_CODE_TO_REGION_CODE[code]
    if "001" in names:
        return None, ()  # non-geographic numbers: the library's own way
    regions = tuple(_Region(m) for m in map(PhoneMetadata.metadata_for_region, names) if m)
    main = PhoneMetadata.metadata_for_region(names[0])
    return (main.national_prefix_for_parsing if main else None), regions


def _valid(code: int, national: str) -> bool:
    """``phonenumbers.is_valid_number`` for a number it parsed to ``code`` and ``national``,
    False when unsure (a national prefix it would try to strip)."""
    prefix, regions = _regions(code)
    if not regions or (prefix and re.match(prefix, national)):
        return False
    for region in regions:  # region_code_for_number's order and rule
        if region.leading is not None:
            if region.leading.match(national):
                return region.known(national)
        elif region.known(national):
            return True
    return False


class _Region:
    """One region's patterns: a number is of a known type (``_number_type_helper``)."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        leading = metadata.leading_digits
        self.leading = re.compile(leading) if leading is not None else None
        self.general = _desc(metadata.general_desc)
        others: tuple[PhoneNumberDesc | None, ...] = (
            metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
            metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
            metadata.fixed_line,
        )
        if not metadata.same_mobile_and_fixed_line_pattern:
            others = (*others, metadata.mobile)
        self.types = [d for d in map(_desc, others) if d is not None]

    def known(self, national: str) -> bool:
        if self.general is None or not _matches(self.general, national):
            return False
        return any(_matches(desc, national) for desc in self.types)


def _desc(desc: PhoneNumberDesc | None) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return re.compile(desc.national_number_pattern), tuple(desc.possible_length or ())


def _matches(desc: tuple[re.Pattern[str], tuple[int, ...]], national: str) -> bool:
    pattern, lengths = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None
