"""Domain errors in the staff member's language, keyed by (field, code)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from touchflow.core.errors import InvalidInput
from touchflow.core.text import TextTooLong

# Domain actions speak English to integrators; the counter screen speaks the staff
# member's language, so it maps the codes it can meet to translated sentences.
_MESSAGES = {
    ("contact", "required"): lambda: _("Type the customer's phone number or e-mail address."),
    ("contact", "invalid_phone"): lambda: _(
        "This is not a valid phone number. A number from abroad needs its country code, "
        "e.g. +48."
    ),
    ("contact", "invalid_email"): lambda: _("This is not a valid e-mail address."),
    ("referral_code", "unknown_code"): lambda: _(
        "There is no such referral code; check it and try again."),
    ("referral_code", "required"): lambda: _(
        "A referral code needs the new customer's phone or e-mail."),
    ("outcome", "required"): lambda: _("Choose whether the customer bought."),
    ("reason", "required"): lambda: _("Choose why the customer did not buy."),
    ("reason", "invalid_choice"): lambda: _("This reason is no longer available."),
    ("categories", "invalid_choice"): lambda: _("One of the categories is no longer available."),
    ("contact_capture", "invalid_choice"): lambda: _("Choose Save, Refused or Didn't ask."),
    ("staff", "not_allowed"): lambda: _("You do not work in this store."),
    ("store", "not_allowed"): lambda: _("You do not work in this store."),
    ("language", "invalid_choice"): lambda: _("Choose one of the offered languages."),
}

# Where an action's field name differs from the form's.
_FORM_FIELD = {"contacts": "contact", "staff": "store"}


def form_field(exc: InvalidInput) -> str:
    """The form field an error belongs beside."""
    head = exc.field.split(".")[0]
    return _FORM_FIELD.get(head, head)


def message(exc: InvalidInput) -> str:
    """A translated message for the error, or the action's own (English) one."""
    if isinstance(exc, TextTooLong):
        return ngettext("At most %(limit)d character, please.",
                        "At most %(limit)d characters, please.", exc.limit) % {"limit": exc.limit}
    if exc.code == "invalid_characters":
        return _("This text contains control characters that cannot be saved; "
                 "type it again without them.")
    field = form_field(exc)
    found = _MESSAGES.get((field, exc.code))
    return found() if found else exc.message
