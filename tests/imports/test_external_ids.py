"""Customer external ids are scoped per store (decision 0010): importing another store's
file with overlapping ids never merges into the first store's customers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from touchflow.customers.actions import ContactInput, find_customer
from touchflow.customers.models import Customer, CustomerExternalId
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store

from .conftest import HEADER, table_counts

API = Actor(source="api")


def test_two_stores_with_overlapping_ids_keep_distinct_customers(
    uk_store: Store, make_store: Callable[..., Store], write_csv: Callable[..., Path]
) -> None:
    paris = make_store(slug="paris", country="FR", time_zone="Europe/Paris", currency="EUR")
    london_file = write_csv(
        HEADER
        + "1001,A,Lamp,1,2011-01-05 10:00:00,20.00,17850.0,United Kingdom\n"
        "1002,B,Mug,2,2011-01-06 10:00:00,2.50,13047.0,United Kingdom\n",
        name="london.csv",
    )
    paris_file = write_csv(
        HEADER
        + "1001,C,Vase,1,2011-02-05 10:00:00,30.00,17850.0,France\n"
        "2002,D,Bowl,1,2011-02-06 10:00:00,4.00,99999.0,France\n",
        name="paris.csv",
    )

    london = import_purchases(london_file, build_mapping(), ImportOptions(store=uk_store))
    in_paris = import_purchases(paris_file, build_mapping(), ImportOptions(store=paris))

    assert (london.customers_created, in_paris.customers_created) == (2, 2)
    assert in_paris.customers_existing == 0
    assert Customer.objects.count() == 4
    londoner = Customer.objects.get(external_ids__store=uk_store, external_ids__value="17850")
    parisian = Customer.objects.get(external_ids__store=paris, external_ids__value="17850")
    assert londoner.pk != parisian.pk
    # Each store's invoice 1001 is its own purchase, of its own customer.
    assert set(Purchase.objects.filter(external_id="1001").values_list("store__slug",
                                                                      "customer_id")) == {
        ("uk", londoner.pk), ("paris", parisian.pk)}
    assert (londoner.country, parisian.country) == ("United Kingdom", "France")
    assert find_customer(external_id="17850", store=uk_store) == [londoner]
    assert find_customer(external_id="17850", store=paris) == [parisian]

    # The same store importing again finds its own customers and changes nothing.
    before = table_counts()
    again = import_purchases(paris_file, build_mapping(), ImportOptions(store=paris))
    assert (again.customers_created, again.customers_existing, again.invoices_imported) == (
        0, 2, 0)
    assert table_counts() == before


def test_a_new_invoice_of_a_known_id_in_the_same_store_goes_to_that_customer(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    first = write_csv(HEADER + "1001,A,Lamp,1,2011-01-05 10:00:00,20.00,17850.0,UK\n",
                      name="a.csv")
    later = write_csv(HEADER + "1005,A,Lamp,1,2011-03-05 10:00:00,20.00,17850.0,UK\n",
                      name="b.csv")
    import_purchases(first, build_mapping(), ImportOptions(store=uk_store))
    report = import_purchases(later, build_mapping(), ImportOptions(store=uk_store))
    assert (report.customers_created, report.customers_existing) == (0, 1)
    assert Purchase.objects.values("customer_id").distinct().count() == 1


def test_a_customer_found_by_phone_in_a_second_store_carries_an_id_in_each(
    uk_store: Store, make_store: Callable[..., Store]
) -> None:
    paris = make_store(slug="paris", country="FR")
    phone = ContactInput("phone", "+447911123456")
    first, _ = resolve_customer(store=uk_store, actor=API, contacts=[phone], external_id="L-1")
    same, created = resolve_customer(store=paris, actor=API, contacts=[phone],
                                     external_id="P-9")
    assert (same.pk, created) == (first.pk, False)
    assert (first.external_id_in(uk_store.pk), first.external_id_in(paris.pk)) == ("L-1", "P-9")
    # Paris's id means nothing in London, and a Paris customer "L-1" is someone else.
    assert find_customer(external_id="P-9", store=uk_store) == []
    other, created = resolve_customer(store=paris, actor=API, external_id="L-1")
    assert created and other.pk != first.pk


def test_a_merge_moves_every_id_to_the_survivor(
    uk_store: Store, make_store: Callable[..., Store]
) -> None:
    paris = make_store(slug="paris", country="FR")
    by_id, _ = resolve_customer(store=uk_store, actor=API, external_id="L-1")
    by_phone, _ = resolve_customer(store=paris, actor=API, external_id="P-1",
                                   contacts=[ContactInput("phone", "+447911123456")])
    # One request naming both proves they are one person.
    survivor, _ = resolve_customer(store=uk_store, actor=API, external_id="L-1",
                                   contacts=[ContactInput("phone", "+447911123456")])
    assert survivor.pk == by_id.pk
    assert sorted(CustomerExternalId.objects.values_list("customer_id", "store__slug",
                                                         "value")) == [
        (survivor.pk, "paris", "P-1"), (survivor.pk, "uk", "L-1")]
    assert find_customer(external_id="P-1", store=paris) == [survivor]
    assert Customer.objects.get(pk=by_phone.pk).merged_into_id == survivor.pk
