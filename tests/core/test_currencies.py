"""Currencies are ISO 4217 codes, not any three letters: on every way in."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from touchflow.core.currencies import CODES, is_currency
from touchflow.core.errors import InvalidInput
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.importer import ImportOptions, UnusableInput, import_purchases
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.purchases.actions import check_currency
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Staff, Store


def test_the_list_holds_current_currencies_only() -> None:
    assert {"GBP", "EUR", "PLN", "RUB", "USD", "UAH", "XCG", "ZWG"} <= CODES
    # Withdrawn (DEM, HRK), funds (CLF), metals (XAU), testing (XTS, XXX), made up (ABC).
    assert not {"DEM", "HRK", "CLF", "XAU", "XTS", "XXX", "ABC"} & CODES
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CODES)
    assert not is_currency("pln")


@pytest.mark.parametrize("code", ["ABC", "QQQ", "XXX", "zł", "EURO", "", " "])
def test_check_currency_refuses_what_is_no_currency(code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_currency(code)
    assert (err.value.field, err.value.code) == ("currency", "invalid_currency")


def test_check_currency_takes_lower_case_and_spaces() -> None:
    assert check_currency(" eur ") == "EUR"


def test_a_purchase_in_three_letters_that_name_no_currency_is_refused(store: Store) -> None:
    customer = resolve_customer(store=store, actor=Actor(source="api"), external_id="c-1")[0]
    with pytest.raises(InvalidInput) as err:
        record_purchase(store=store, actor=Actor(source="api"), customer=customer,
                        amount="10", currency="ABC")
    assert err.value.field == "currency"
    assert Purchase.objects.count() == 0


def test_a_store_keeps_an_iso_currency_only(store: Store) -> None:
    store.currency = "ABC"
    with pytest.raises(ValidationError) as err:
        store.full_clean()
    assert list(err.value.message_dict) == ["currency"]
    store.currency = "EUR"
    store.full_clean()


def test_the_admin_store_form_names_the_bad_currency(admin_staff: Staff, store: Store) -> None:
    client = Client()
    client.force_login(admin_staff)
    response = client.post(f"/admin/stores/store/{store.pk}/change/", {
        "name": store.name, "slug": store.slug, "country": "PL", "time_zone": "Europe/Warsaw",
        "language": "pl", "currency": "ABC", "quiet_hours_start": "21:00",
        "quiet_hours_end": "09:00", "cap_messages": "2", "cap_commercial": "1",
        "cap_period_days": "7",
    })
    assert response.status_code == 200
    assert "ABC is not an ISO 4217 currency code" in response.content.decode()
    store.refresh_from_db()
    assert store.currency == "PLN"


def test_the_importer_refuses_a_currency_that_is_no_currency(store: Store) -> None:
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID\n",
             "1,S,Thing,2,2011-07-01 10:00,1.25,5\n"]
    with pytest.raises(UnusableInput, match="--currency: Use an ISO 4217 currency code"):
        import_purchases(lines, build_mapping(), ImportOptions(store=store, currency="ABC"))
    assert Purchase.objects.count() == 0
