"""A real JupyterHub 4.0.2 on 127.0.0.1 (random ports), started by jhubctl's own runner, shared per module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jhubctl.config import Loaded, load_config
from jhubctl.hubapi.client import HubClient
from jhubctl.local.process import LocalHub, HubProcess
from jhubctl.state import Secrets


@dataclass
class RunningHub:
    loaded: Loaded
    hub: LocalHub
    token: str

    def client(self) -> HubClient:
        return HubClient(self.hub.url, self.token)

    def folder(self, user: str, conversation: str) -> Path:
        return self.hub.data_root / user / "conversations" / conversation

    def tree(self) -> set[str]:
        """Every path under the data root, to prove that a refused request created nothing."""
        root = self.hub.data_root
        return {str(p.relative_to(root)) for p in root.rglob("*")}


def start_hub(state_dir: Path, config: str = "target: local\n") -> RunningHub:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir.parent / "jhubctl.yaml").write_text(config)
    loaded = load_config(state_dir.parent / "jhubctl.yaml", state_dir, environ={})
    done = HubProcess(loaded).start()
    assert done.started
    hub = done.hub
    token = Secrets(state_dir, environ={}).api_token()
    assert token
    return RunningHub(loaded, hub, token)


@pytest.fixture(scope="module")
def running_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("JHUBCTL_")}
    hub = start_hub(tmp_path_factory.mktemp("hub") / ".jhubctl")
    try:
        yield hub
    finally:
        HubProcess(hub.loaded).stop()
        os.environ.update(saved)


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[Callable[[str], RunningHub]]:
    """Start a hub with a config of the test's own; stopped when the test ends."""
    started: list[RunningHub] = []

    def make(config: str) -> RunningHub:
        hub = start_hub(tmp_path / f"hub{len(started)}" / ".jhubctl", config)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        HubProcess(hub.loaded).stop()
