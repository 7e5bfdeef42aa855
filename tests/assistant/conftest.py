"""The assistant's side runs against the same real local hub as tests/hub (one per test module)."""

from __future__ import annotations

from tests.hub.conftest import RunningHub, hub_factory, running_hub, start_hub

__all__ = ["RunningHub", "hub_factory", "running_hub", "start_hub"]
