"""The white classification of visit results (SPEC §1, seed 002).

Type 1: bought, contacts taken.       Type 2: bought, refused after an attempt.
Type 3: did not buy, contacts taken.  Type 4: did not buy, refused after an attempt.
Grey:   the seller did not try to take contacts, whatever the outcome — a miss.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ContactCapture(models.TextChoices):
    TAKEN = "taken", _("Contacts taken")
    REFUSED = "refused", _("Refused after an attempt")
    NOT_ATTEMPTED = "not_attempted", _("Not asked")


class VisitClass(models.TextChoices):
    TYPE_1 = "type1", _("Type 1: bought, contacts taken")
    TYPE_2 = "type2", _("Type 2: bought, contacts refused")
    TYPE_3 = "type3", _("Type 3: did not buy, contacts taken")
    TYPE_4 = "type4", _("Type 4: did not buy, contacts refused")
    GREY = "grey", _("Grey: contacts not asked")


_TABLE: dict[tuple[bool, str], VisitClass] = {
    (True, ContactCapture.TAKEN): VisitClass.TYPE_1,
    (True, ContactCapture.REFUSED): VisitClass.TYPE_2,
    (False, ContactCapture.TAKEN): VisitClass.TYPE_3,
    (False, ContactCapture.REFUSED): VisitClass.TYPE_4,
    (True, ContactCapture.NOT_ATTEMPTED): VisitClass.GREY,
    (False, ContactCapture.NOT_ATTEMPTED): VisitClass.GREY,
}


def classify(bought: bool, capture: str) -> VisitClass:
    """The class of a visit with this outcome and contact capture."""
    return _TABLE[(bool(bought), ContactCapture(capture))]
