"""When a customer is going cold (decision 0024, "The database side"): the thresholds and
why. Pure: no database, no clock.

Measured on the Online Retail year (calendar days, as ``rhythm`` counts them):

- Of the gaps after which customers *did* buy again, 25.6 % were longer than 1.5 times
  the customer's own rhythm at the time, 14.8 % longer than twice it. 1.5 own rhythms
  flags a customer once their silence is longer than three in four of the gaps that
  still ended in a purchase: late enough not to nag the regulars, early enough for a
  message to matter.
- Against the store's rhythm (a customer with too few purchases of their own), the same
  three-in-four point lies at 2.59 store rhythms (the median second purchase came after
  1.27 of them; 44 % of those who came back took longer than 1.5): a customer without a
  rhythm of their own is given 2.5 store rhythms.
- ``p_alive`` below one half ("more likely gone than still buying") marks a repeat buyer
  cold by itself, but is never required: fitted on calendar days, the store's model puts
  p_alive at 0.99 or more for 99 % of repeat buyers, so "overdue *and* p_alive low" would
  mark almost nobody in exactly the stores with the most history.
"""

from __future__ import annotations

# A customer is overdue at this many rhythms since their last purchase or two-way
# contact: their own rhythm, else the store's (purchases, or visits for prospects).
OWN_RHYTHM_COLD = 1.5
STORE_RHYTHM_COLD = 2.5
# Below this the model thinks a repeat buyer more likely gone than still buying.
P_ALIVE_COLD = 0.5
# Expected purchases are counted over this many days (``CustomerHealth.expected_90d``).
HORIZON_DAYS = 90.0
# The fit reads at most this many customers, drawn at random (seeded by the store): from
# 100 repeat buyers on, refits stayed within about 5 % (decision 0024); 50,000 customers
# keep the fit under a second however large the store, and p_alive is then computed for
# everybody.
FIT_SAMPLE = 50_000
