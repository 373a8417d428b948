"""What a customer is offered to stop messages with, per language: the messengers'
button label, the line that ends an SMS, the e-mail and messenger footer with its link.

The one place these words live: the chain messages (``delivery.render``) and the
messages outside any chain (``messaging`` providers' ``send_text``) both read them.
A language not listed gets English.
"""

from __future__ import annotations

STOP_LABELS = {"en": "Stop messages", "ru": "Отписаться", "pl": "Wypisz mnie"}
SMS_STOP_LINES = {
    "en": "Reply STOP to opt out.",
    "ru": "Чтобы отписаться, ответьте СТОП.",
    "pl": "Aby zrezygnować, odpisz STOP.",
}
LINK_FOOTERS = {"en": "Unsubscribe: {url}", "ru": "Отписаться: {url}", "pl": "Wypisz się: {url}"}


def stop_label(language: str) -> str:
    """The unsubscribe button's label."""
    return STOP_LABELS.get(language, STOP_LABELS["en"])


def sms_stop_line(language: str) -> str:
    """How an SMS says that replying STOP ends the messages."""
    return SMS_STOP_LINES.get(language, SMS_STOP_LINES["en"])


def link_footer(language: str, url: str) -> str:
    """The unsubscribe link as the last line of a message."""
    return LINK_FOOTERS.get(language, LINK_FOOTERS["en"]).format(url=url)
