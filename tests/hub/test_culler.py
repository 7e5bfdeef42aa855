"""The idle culler configured from hub.cull really runs on the local hub and removes idle conversations."""

from __future__ import annotations

import time
import pytest

pytestmark = pytest.mark.hub


def test_idle_named_server_is_culled_and_removed(hub_factory) -> None:
    hub = hub_factory("hub:\n  cull:\n    timeout: 10\n    every: 2\n")
    with hub.client() as client:
        client.ensure_user("idle")
        client.start_server("idle", "sleepy", {"conversation_id": "sleepy"}, timeout=60, idle_timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and client.server("idle", "sleepy") is not None:
            time.sleep(1)
        assert client.server("idle", "sleepy") is None, "the culler did not stop the idle server"
        model = client.request("GET", "/users/idle", params={"include_stopped_servers": "1"}).json()
        assert "sleepy" not in model["servers"]  # removed, not just stopped (remove_named_servers)
    log = hub.hub.log.read_text()
    assert "--remove-named-servers=true" in log and "Culling server idle/sleepy" in log
    assert hub.folder("idle", "sleepy").is_dir()  # culling never touches the conversation's data
