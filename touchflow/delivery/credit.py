"""Which chain's message reached a customer last before something they did: the rule
the dashboard credits a purchase, a reply or a STOP to a chain by (decision 0028).

Last touch: of the messages a store's chains sent the customer within ``window`` before
the moment, the latest one gets the credit — its chain and step. A call counts as a
message once a person has logged it. Nothing sent in the window: no chain (the sale
came on its own, as far as Touchflow can tell).

Read from the sent touches by the index the frequency caps use (customer, finished_at
of sent touches), one query for a whole batch of moments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from touchflow.delivery.models import Touch, TouchState


class Credit(NamedTuple):
    flow: str  # the chain's slug
    step: str  # the step's key


NOBODY = Credit("", "")
# A reply or a STOP answers the last message of the week before it.
ANSWER_WINDOW = timedelta(days=7)


def last_touches(store_id: int, moments: Sequence[tuple[int, datetime]], window: timedelta
                 ) -> list[Credit]:
    """For each (customer id, moment): the chain and step of the store's last message
    to that customer within ``window`` before the moment (``NOBODY``: none)."""
    if not moments:
        return []
    customers = {customer for customer, _at in moments}
    earliest = min(at for _c, at in moments) - window
    latest = max(at for _c, at in moments)
    sent = (
        Touch.objects.filter(
            customer_id__in=customers, state=TouchState.SENT, store_id=store_id,
            finished_at__gte=earliest, finished_at__lte=latest,
        )
        .order_by()
        .values_list("customer_id", "finished_at", "enrollment__flow__slug", "step__key")
    )
    by_customer: dict[int, list[tuple[datetime, Credit]]] = defaultdict(list)
    for customer, finished, flow, step in sent:
        if finished is not None:  # the filter says so; the column may be null
            by_customer[customer].append((finished, Credit(flow, step)))
    return [_last(by_customer.get(customer, ()), at - window, at) for customer, at in moments]


def last_touch(store_id: int, customer_id: int, at: datetime, window: timedelta) -> Credit:
    return last_touches(store_id, [(customer_id, at)], window)[0]


def _last(sent: Sequence[tuple[datetime, Credit]], since: datetime, until: datetime) -> Credit:
    inside = [(finished, credit) for finished, credit in sent if since <= finished <= until]
    return max(inside)[1] if inside else NOBODY
