"""An import follows the chains' rules: a purchase ends warming, a recent one starts
the purchase chains, and history from years ago starts nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import time_machine

from tests.delivery.conftest import EXAMPLES
from tests.imports.conftest import HEADER
from touchflow.customers.actions import ConsentGrant, add_external_id, check_contact
from touchflow.flows.actions import load_flow_dir
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_mapping import build_mapping
from touchflow.stores.models import Store

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def test_imported_purchases_move_leads_and_only_recent_ones_enter_chains(
    uk_store: Store, write_csv: Callable[..., Path]
) -> None:
    results, errors = load_flow_dir(EXAMPLES)
    assert errors == []
    for result in results:
        set_status(result.flow, "active")
    with time_machine.travel(NOW, tick=False):
        # A lead in the warming chain, known to the POS as customer 17850.
        visit, _ = log_visit(
            store=uk_store,
            actor=Actor(source="counter"),
            bought=False,
            reason="just_looking",
            contact_capture="taken",
            contacts=[check_contact("phone", "07911 123456", region="GB")],
            consent=ConsentGrant(),
            occurred_at=datetime(2026, 6, 1, 10, tzinfo=UTC),
        )
        add_external_id(visit.customer, uk_store, "17850")
        path = write_csv(
            HEADER
            + "1001,A,Lamp,1,2026-06-09 10:00:00,20.00,17850.0,United Kingdom\n"
            + "1002,B,Mug,2,2010-12-01 08:26:00,2.55,13047.0,United Kingdom\n"
        )
        report = import_purchases(path, build_mapping({}), ImportOptions(store=uk_store))
    assert report.invoices_imported == 2
    states = sorted(
        Enrollment.objects.values_list(
            "customer__external_ids__value", "flow__slug", "state", "end_reason"
        )
    )
    assert states == [
        ("17850", "check-in", "active", ""),
        ("17850", "loyalty", "active", ""),
        ("17850", "warming", "exited", "purchase"),
    ]
