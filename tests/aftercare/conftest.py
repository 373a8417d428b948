"""The engine's fixtures (driven clock, example chains, sinks) serve the check-ins too."""

from __future__ import annotations

from tests.delivery.conftest import clock, flows, make_dispatcher, sink, smtp  # noqa: F401
