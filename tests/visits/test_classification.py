from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from touchflow.core import clock
from touchflow.stores.models import Store
from touchflow.visits.classification import ContactCapture, VisitClass, classify
from touchflow.visits.models import Reason, Visit


@pytest.mark.parametrize(
    ("bought", "capture", "expected"),
    [
        (True, "taken", VisitClass.TYPE_1),
        (True, "refused", VisitClass.TYPE_2),
        (False, "taken", VisitClass.TYPE_3),
        (False, "refused", VisitClass.TYPE_4),
        (True, "not_attempted", VisitClass.GREY),
        (False, "not_attempted", VisitClass.GREY),
    ],
)
def test_white_classification(bought: bool, capture: str, expected: VisitClass) -> None:
    assert classify(bought, capture) == expected


def test_unknown_capture_is_an_error() -> None:
    with pytest.raises(ValueError):
        classify(True, "maybe")


def _raw_visit(store: Store, **fields: object) -> None:
    defaults: dict[str, object] = {
        "store": store,
        "occurred_at": clock.now(),
        "created_at": clock.now(),
        "source": "api",
        "bought": False,
        "contact_capture": ContactCapture.REFUSED,
        "visit_class": VisitClass.TYPE_4,
        "reason": Reason.objects.get(code="just_looking"),
    }
    defaults.update(fields)
    with transaction.atomic():
        Visit.objects.create(**defaults)


def test_database_refuses_a_class_that_contradicts_the_result(store: Store) -> None:
    _raw_visit(store)  # consistent: accepted
    with pytest.raises(IntegrityError):
        _raw_visit(store, visit_class=VisitClass.TYPE_1)
    assert Visit.objects.count() == 1


def test_database_refuses_a_reason_on_a_purchase(store: Store) -> None:
    with pytest.raises(IntegrityError):
        _raw_visit(store, bought=True, visit_class=VisitClass.TYPE_2)
    assert Visit.objects.count() == 0


def test_database_refuses_contacts_taken_without_a_customer(store: Store) -> None:
    with pytest.raises(IntegrityError):
        _raw_visit(store, contact_capture=ContactCapture.TAKEN, visit_class=VisitClass.TYPE_3)
    assert Visit.objects.count() == 0


def test_builtin_reasons_cover_objective_reasons_and_seller_errors(db: None) -> None:
    by_kind = {
        kind: sorted(Reason.objects.filter(kind=kind).values_list("code", flat=True))
        for kind in ("objective", "seller_error")
    }
    assert by_kind == {
        "objective": ["credit_refused", "just_looking", "price_difference"],
        "seller_error": ["too_passive", "too_pushy", "weak_product_knowledge", "wrong_sales_tool"],
    }
    assert Reason.objects.get(code="just_looking").label("pl") == "Tylko ogląda"
    assert Reason.objects.get(code="too_pushy").label("ru") == "Слишком напористо"
