"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_hub_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records (and refuses) any request to a hub, so a test proves none was attempted."""
    from jhubctl.hubapi.client import HubClient

    calls: list[tuple[str, str]] = []

    def refuse(self, method: str, path: str, **kwargs):
        calls.append((method, path))
        raise AssertionError(f"contacted the hub: {method} {path}")

    monkeypatch.setattr(HubClient, "request", refuse)
    return calls
