"""Relationship health (issue 11; decision 0024): how overdue a customer's next contact is
and how likely they are still a customer. Pure functions, no database.

- ``rhythm``: a customer's typical gap between purchases (or the store's, when the
  customer has too little history) and how far past it the customer is now.
- ``bgnbd``: the BG/NBD model (Fader, Hardie & Lee 2005) fitted to a store's purchases by
  maximum likelihood: the probability a customer is still active and the purchases to
  expect from them; ``enough_history`` says when a store's history can carry a fit.
"""
