"""The tone and pushiness check (issue 12; decision 0031): pure, no database.

``check(text, language)`` returns a ``Flag`` for each win–lose behaviour (seed 001) and
each kind of pressure (seed 000) found in a text in en, ru or pl, with the words it
found, why it matters to the customer and a kinder wording. Lexicons are data
(``lexicons/*.yaml``), extended by a business's own (``TOUCHFLOW_TONE_LEXICONS``).
Applied by ``touchflow flows validate`` (warnings) and ``touchflow tone check``.
"""

from __future__ import annotations

from touchflow.guardrails.categories import CATEGORIES, LANGUAGES, PRESSURE, WIN_LOSE, group
from touchflow.guardrails.check import check
from touchflow.guardrails.flags import Flag
from touchflow.guardrails.lexicon import LexiconError

__all__ = [
    "CATEGORIES", "LANGUAGES", "PRESSURE", "WIN_LOSE", "Flag", "LexiconError", "check", "group",
]
