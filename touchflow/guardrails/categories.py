"""What the tone check looks for: the seven win–lose behaviours of seed 001 and the
kinds of pressure seed 000 rules out ("the customer's choice is law")."""

from __future__ import annotations

# Seed 001: a seller who wants to "win" against the customer.
WIN_LOSE = (
    "blame",  # blames the customer, even for something small
    "ignorance",  # points out what the customer does not know
    "last_word",  # insists on the last word, leaves them no answer
    "nitpicking",  # corrects trivial details
    "arguing",  # argues, to come out on top
    "put_in_place",  # "puts the customer in their place"
    "superiority",  # shows the seller's special standing
)
# Seed 000: anything that makes the choice for the customer.
PRESSURE = (
    "urgency",  # hurry, act now, last chance
    "scarcity",  # only 2 left, while stocks last
    "guilt",  # you let us down, after all we did
    "fear",  # you will regret it, you will lose
    "shouting",  # CAPITALS, "!!!"
    "obligation",  # you must, you have to
)
CATEGORIES = WIN_LOSE + PRESSURE
LANGUAGES = ("en", "ru", "pl")


def group(category: str) -> str:
    """``win_lose`` or ``pressure``."""
    return "win_lose" if category in WIN_LOSE else "pressure"
