"""Relationship health (issue 11; decision 0024): how overdue a customer's next contact is
and how likely they are still a customer.

- ``rhythm``: a customer's typical gap between purchases (or the store's, when the
  customer has too little history) and how far past it the customer is now.
- ``bgnbd``: the BG/NBD model (Fader, Hardie & Lee 2005) fitted to a store's purchases by
  maximum likelihood: the probability a customer is still active and the purchases to
  expect from them; ``enough_history`` says when a store's history can carry a fit.
- ``rules``, ``snapshot``: when a customer is going cold, and a whole store's customers
  judged at once (pure, numpy).
- ``models``, ``queries``, ``actions``: the database side — ``StoreFit`` and
  ``CustomerHealth``, the set-shaped reads, ``refresh`` and ``enrol_cold``; ``daily``: the
  worker's once-a-day refresh; ``card``: what the customer card says.
"""
