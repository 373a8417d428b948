"""Who performed an action: a staff member, an integration (an API token), or the system
itself. Here, not in ``core``: it names the staff and token models, and ``core`` knows no
domain app; ``integrations`` already stands on ``stores``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from touchflow.integrations.models import ApiToken
    from touchflow.stores.models import Staff


@dataclass(frozen=True)
class Actor:
    source: str  # one of ConsentSource / VisitSource values: counter, api, import, ...
    staff: Staff | None = None
    integration: ApiToken | None = None

    @classmethod
    def system(cls, source: str) -> Actor:
        return cls(source=source)
