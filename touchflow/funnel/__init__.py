"""The funnel: what a visit, a sale, an import, an answer, an opt-in or a STOP does to a
customer and their place in the chains — the actions that orchestrate the domain
packages below (customers, visits, purchases, flows, delivery), none of which calls up.
"""
