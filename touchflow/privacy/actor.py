"""Who asked for a privacy action: a staff member, an API token, the CLI, the worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from touchflow.privacy.models import ActorKind

if TYPE_CHECKING:
    from touchflow.integrations.models import ApiToken
    from touchflow.stores.models import Staff


@dataclass(frozen=True)
class Requester:
    kind: str
    staff: Staff | None = None
    integration: ApiToken | None = None

    @classmethod
    def of_staff(cls, staff: Staff) -> Requester:
        return cls(ActorKind.STAFF, staff=staff)

    @classmethod
    def of_token(cls, token: ApiToken) -> Requester:
        return cls(ActorKind.API, integration=token)

    @classmethod
    def cli(cls) -> Requester:
        return cls(ActorKind.CLI)

    @classmethod
    def worker(cls) -> Requester:
        return cls(ActorKind.WORKER)
