"""What the purchases say about a customer, for the modules that ask."""

from __future__ import annotations

from touchflow.purchases.models import Purchase


def has_bought(customer_id: int, store_id: int) -> bool:
    """Whether the customer has bought at the store (a sale logged at the counter
    counts before the till reports its amount): the 20% rule's buyer, as that store
    knows them."""
    return Purchase.objects.filter(customer_id=customer_id, store_id=store_id).exists()
