"""`jhubctl up` on target azure end to end: provision over the fake ARM, the image built by ACR Tasks, the
chart installed into the fake cluster provision's kubeconfig points at, and a health check on a real hub."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jhubctl.local.process import LocalHub
from tests.cluster.conftest import INTERPRETER, TOKEN, give_lock, hub_port, local_hub, tiny_lock  # noqa: F401
from tests.fakes.arm.tasks import AcrTasks, FakeBlob
from tests.fakes.base.fixtures import stop_all, write_ca_bundle
from tests.fakes.registry import FakeRegistry
from tests.fakes.tools.fixtures import Tools, make_tools
from tests.provision.conftest import (  # noqa: F401
    AzureEnv,
    fake_arm,
    fake_arm_factory,
    fake_graph_factory,
    make_env,
    shared_ssh_key,
)

pytestmark = pytest.mark.hub


@dataclass
class Whole:
    env: AzureEnv
    tasks: AcrTasks
    registry: FakeRegistry
    tools: Tools


@pytest.fixture
def whole(make_env: Callable[..., AzureEnv], local_hub: LocalHub, tmp_path: Path, tiny_lock: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Whole]:
    import jhubctl.image.acr

    monkeypatch.setattr(jhubctl.image.acr, "POLL", 0.01)
    blob = FakeBlob(ca_dir=tmp_path / "blob-ca").start()
    registry = FakeRegistry(ca_dir=tmp_path / "registry-ca").start()
    env = make_env("az", config={"registry": {"server": registry.host}, "kubernetes": {"wait_timeout": 20},
                                 "interpreter": dict(INTERPRETER)})
    give_lock(env.state_dir, tiny_lock)
    env.kube.controllers.settle = 0
    tasks = AcrTasks(env.fake, blob, on_push=registry.push)
    bundle = write_ca_bundle(tmp_path / "all-ca.pem", [env.fake.ca_pem, blob.ca_pem, registry.ca_pem])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    tools = make_tools(tmp_path / "tools")
    tools.helm.set(proxy_port=hub_port(local_hub))
    monkeypatch.setenv("PATH", f"{tools.bin}{os.pathsep}{os.environ['PATH']}")
    env.extra_env["JHUBCTL_API_TOKEN"] = TOKEN
    yield Whole(env, tasks, registry, tools)
    stop_all([blob, registry], "a fake")


def test_up_on_azure_provisions_builds_in_acr_deploys_and_checks_then_a_rerun_writes_nothing(
    whole: Whole, local_hub: LocalHub
) -> None:
    env = whole.env
    result = env.run("up")
    assert result.code == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"hub URL:   {local_hub.url}"
    journal = env.journal()
    for step in ("aks", "kubeconfig", "csi-driver", "apply-storage", "build-hub-image", "build-singleuser-image",
                 "deploy-hub"):
        assert journal[step]["status"] == "succeeded", step
    assert journal["build-hub-image"]["outputs"]["builder"] == "acr-tasks"
    assert journal["build-singleuser-image"]["outputs"]["builder"] == "acr-tasks"
    assert [r["imageNames"][0].split(":")[0] for r in whole.tasks.requests] == ["k8s-hub", "singleuser"]
    assert {repo for repo, _ in whole.registry.images} == {"k8s-hub", "singleuser"}
    assert set(whole.registry.images.values()) == {"linux/amd64"}
    assert "health check: print(6 * 7) printed 42" in result.stderr
    pv = env.kube.get_object("persistentvolumes", "azure-blob-nfs-pv")
    assert pv is not None and pv["spec"]["csi"]["volumeAttributes"]["storageAccount"] == "jhubstore1"
    hub = env.kube.get_object("deployments", "hub", "jhub")
    assert hub is not None and hub["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        f"{whole.registry.host}/k8s-hub:3.1.0-")

    arm_seen, kube_seen = len(env.fake.requests), len(env.kube.requests)
    helm_seen = len(whole.tools.helm.calls())
    again = env.run("up", "--no-smoke-test")
    assert again.code == 0, again.stderr[-3000:]
    assert env.writes(arm_seen) == []
    assert [r for r in env.kube.requests.snapshot()[kube_seen:] if r.is_write] == []
    assert len(whole.tasks.requests) == 2
    assert [c["argv"][0] for c in whole.tools.helm.calls()[helm_seen:]] == ["version", "list"]
    assert "deploy-hub: nothing to do" in again.stderr and "build-hub-image: nothing to do" in again.stderr
    assert "build-singleuser-image: nothing to do" in again.stderr

    down = env.run("down")
    assert down.code == 0 and "`jhubctl destroy` deletes the Azure infrastructure" in down.stderr
