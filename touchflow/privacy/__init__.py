"""Privacy requests: a customer's data exported, erased on request, and old texts retired."""
