"""The delivery tests' fixtures (a driven clock, the example chains, a counter visit, real
local SMTP and HTTP servers), for the commands that operate the engine."""

from tests.delivery.conftest import (  # noqa: F401 - fixtures pytest finds by name
    clock,
    flows,
    make_dispatcher,
    sink,
    smtp,
    type3_visit,
)
