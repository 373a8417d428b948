"""References the database does not check, checked on request.

Some foreign keys carry no database constraint (decision 0006): a check per inserted
row share-locks the parent row, which the hot paths and the import cannot afford.
Django keeps them on delete (CASCADE, PROTECT and SET_NULL run in the ORM), and the
writers hold the parent in the same transaction; this module finds, for ``touchflow
doctor``, any row whose reference points at nothing all the same. One anti-join per
such reference: a scan of the referring table, fine for a check run by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models


@dataclass(frozen=True)
class Orphans:
    reference: str  # "purchases.Purchase.store"
    count: int
    examples: list[int]  # primary keys of a few referring rows


def unchecked() -> list[models.ForeignKey[models.Model, models.Model]]:
    """Every foreign key of Touchflow's models that the database does not check."""
    return [
        field
        for model in apps.get_models()
        if model.__module__.startswith("touchflow.")
        for field in model._meta.local_fields
        if isinstance(field, models.ForeignKey) and not getattr(field, "db_constraint", True)
    ]


def orphans(shown: int = 5) -> list[Orphans]:
    """The unchecked references that point at a missing row, with a few examples."""
    found = []
    for field in unchecked():
        model, target = field.model, field.related_model
        assert isinstance(target, type)
        missing = model._default_manager.filter(
            **{f"{field.attname}__isnull": False}
        ).exclude(**{f"{field.attname}__in": target._default_manager.values("pk")})
        examples = list(missing.order_by("pk").values_list("pk", flat=True)[:shown])
        if examples:
            label = f"{model._meta.app_label}.{model.__name__}.{field.name}"
            found.append(Orphans(label, missing.count(), examples))
    return found
