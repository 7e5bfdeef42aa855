"""Diagnose on a real local JupyterHub 4.0.2 (the chart's version): all ok, and the fake hub answers like it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from jhubctl.diagnose.runner import run
from jhubctl.local.process import HubProcess
from jhubctl.services import API_SERVICE_SCOPES
from tests.diagnose.world import one
from tests.hub.conftest import RunningHub, start_hub

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("JHUBCTL_")}
    hub = start_hub(tmp_path_factory.mktemp("diagnose") / ".jhubctl")
    hub.loaded.state_dir.chmod(0o700)  # as jhubctl makes it (the test helper made it first, with plain mkdir)
    try:
        yield hub
    finally:
        HubProcess(hub.loaded).stop()
        os.environ.update(saved)


def test_a_running_local_hub_gives_all_ok(local: RunningHub) -> None:
    with local.client() as hub:
        hub.ensure_user("demo")  # what `up`'s smoke test leaves (named servers are probed on a user)
    report = run(local.loaded, areas=("local", "hub"))
    assert {f.code: f.status for f in report.findings} == {
        "JH101": "ok", "JH102": "skip", "JH103": "skip", "JH104": "skip", "JH105": "ok", "JH106": "ok", "JH110": "ok",
        "JH111": "ok", "JH112": "ok", "JH113": "ok", "JH401": "ok", "JH402": "ok", "JH403": "ok", "JH404": "ok",
        "JH405": "ok"}, [f for f in report.findings if f.status != "ok"]
    culler = one(report, "JH404")
    assert culler.summary == "idle-culler runs with --timeout=3600"
    assert culler.evidence[0] == f"read: {local.hub.log}"
    assert report.exit_code == 0


def test_the_fake_hub_answers_a_wrong_token_and_the_scopes_as_the_real_hub(local: RunningHub) -> None:
    """What the fake hub (tests/fakes/hub) says is what JupyterHub 4.0.2 says."""
    from jhubctl.hubapi.client import HubClient
    from tests.fakes.hub.server import FakeHub

    with HubClient(local.hub.url, "not-the-token") as wrong, HubClient(local.hub.url, local.token) as right:
        refused = wrong.request("GET", "/user")
        model = right.request("GET", "/user").json()
    assert refused.status_code == 403
    with FakeHub(token="x") as fake, HubClient(fake.url, "y") as other:
        faked = other.request("GET", "/user")
        fake_model = HubClient(fake.url, "x").request("GET", "/user").json()
    assert faked.status_code == 403 and faked.json() == refused.json()
    assert set(API_SERVICE_SCOPES) <= set(model["scopes"])
    assert model["scopes"] == fake_model["scopes"]
    with FakeHub(token="x") as fake, HubClient(fake.url, "y") as other, HubClient(local.hub.url, "y") as real:
        for path in ("/users", "/users/nobody"):
            assert other.request("GET", path).json() == real.request("GET", path).json(), path
    assert (model["kind"], model["name"]) == (fake_model["kind"], fake_model["name"])


def test_a_users_conversation_on_the_local_target(local: RunningHub) -> None:
    with local.client() as hub:
        hub.ensure_user("alice")
        hub.start_server("alice", "c1", {}, timeout=60, idle_timeout=60)
    report = run(local.loaded, areas=("local", "hub"), user="alice", conversation="c1")
    server = one(report, "JH406")
    assert server.status == "ok" and server.summary.startswith("alice/c1 is ready at ")
    folder = one(report, "JH114")
    assert folder.status == "ok" and folder.evidence[0].startswith(f"{local.folder('alice', 'c1')}: 0700")


def test_logs_on_the_local_target_pick_each_components_lines(local: RunningHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from jhubctl.logs import origin
    from tests.provision.conftest import run_cli

    with local.client() as hub:
        hub.ensure_user("bob")
        hub.start_server("bob", "b1", {}, timeout=60, idle_timeout=60)
    monkeypatch.chdir(local.loaded.state_dir.parent)
    everything = run_cli("logs", "hub")
    assert everything.code == 0 and everything.stdout == local.hub.log.read_text()
    assert f"log of {local.hub.log}" in everything.stderr
    proxy = run_cli("logs", "proxy").stdout.splitlines()
    assert proxy and all(origin(line) in ("proxy", None) for line in proxy)
    assert any("Route added /user/bob/b1" in line for line in proxy)
    culler = run_cli("logs", "culler").stdout
    assert "Starting service 'idle-culler'" in culler
    server = run_cli("logs", "bob", "b1").stdout.splitlines()
    assert server and all("bob" in line or origin(line) is None for line in server)
    assert any("/user/bob/b1/" in line for line in server)
    recent = run_cli("logs", "hub", "--since", "1h")
    assert recent.code == 0 and recent.stdout.strip()
    refused = run_cli("logs", "hub", "--previous")
    assert refused.code == 2 and "the local hub keeps one log" in refused.stderr
