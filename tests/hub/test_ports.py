"""Ports the local hub picks can be taken before it binds them: it picks again; a configured one is named."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from jhubctl.config import load_config
from jhubctl.local import process
from jhubctl.local.process import HubProcess, PortTaken
from tests.conftest import FAST_LOCAL


@pytest.fixture
def taken() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def hub_process(tmp_path: Path, extra: str = "") -> HubProcess:
    config = tmp_path / "jhubctl.yaml"
    config.write_text(FAST_LOCAL + extra)
    return HubProcess(load_config(config, tmp_path / ".jhubctl", environ={}))


def test_a_picked_port_taken_before_the_hub_binds_it_is_picked_again(
    tmp_path: Path, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, picks = process.free_ports, []

    def racy(count: int, host: str = "127.0.0.1") -> list[int]:
        ports = real(count, host)
        ports[1] = taken if not picks else ports[1]  # the hub's own port is taken on the first try only
        picks.append(ports)
        return ports

    monkeypatch.setattr(process, "free_ports", racy)
    hubs = hub_process(tmp_path)
    try:
        started = hubs.start()
        assert started.started and len(picks) == 2
        assert "Address already in use" in started.hub.log.read_text()  # the first try failed on it
    finally:
        hubs.stop()
    assert not hubs.tracked()


def test_a_configured_port_in_use_is_named_and_nothing_is_left_running(tmp_path: Path, taken: int) -> None:
    hubs = hub_process(tmp_path, f"  port: {taken}\n")
    with pytest.raises(PortTaken) as raised:
        hubs.start()
    assert raised.value.hint == f"local.port {taken} is in use: free it or choose another"
    assert not hubs.tracked()
