"""Fixtures for the image tests: the cluster environment, and an Azure one with ACR Tasks.

``acr_env`` is a :class:`~tests.cluster.conftest.ClusterEnv` with ``target: azure`` whose ARM endpoint is
a fake ARM holding the registry, with ACR Tasks (:mod:`tests.fakes.arm.tasks`) and the registry's own API
(:class:`~tests.fakes.registry.FakeRegistry`, named by ``registry.server``); a successful run pushes
into that registry. ``REQUESTS_CA_BUNDLE`` trusts all three fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.conftest import ClusterEnv, cluster_env, make_cluster_env, tiny_lock  # noqa: F401
from tests.fakes.arm import FakeArm
from tests.fakes.arm.fixtures import fake_arm, fake_arm_factory  # noqa: F401
from tests.fakes.arm.tasks import AcrTasks, FakeBlob
from tests.fakes.base.fixtures import stop_all, write_ca_bundle
from tests.fakes.base.tokens import ARM_AUDIENCE, jwt
from tests.fakes.registry import FakeRegistry

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
#: Fixed in every part: pytest imports this module twice (as conftest and as tests.image.conftest).
ARM_TOKEN = jwt(ARM_AUDIENCE, signature="acr-test-token", oid="00000000-0000-0000-0000-00000000acr1",
                iat=1700000000, nbf=1700000000, exp=4102444800)
GROUP, ACR = "jhub-rg", "jhubacr1"


@dataclass
class AcrEnv:
    env: ClusterEnv
    arm: FakeArm
    blob: FakeBlob
    tasks: AcrTasks
    registry: FakeRegistry


@pytest.fixture
def acr_env(make_cluster_env: Callable[..., ClusterEnv], fake_arm_factory: Callable[..., FakeArm], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[AcrEnv]:
    arm = fake_arm_factory(subscription_id=SUBSCRIPTION, expected_token=ARM_TOKEN)
    blob = FakeBlob(ca_dir=tmp_path / "blob-ca").start()
    registry = FakeRegistry(aad_token=ARM_TOKEN, ca_dir=tmp_path / "registry-ca").start()
    tasks = AcrTasks(arm, blob, on_push=registry.push)
    bundle = write_ca_bundle(tmp_path / "all-ca.pem", [arm.ca_pem, blob.ca_pem, registry.ca_pem])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}"
    arm.resources.seed(group, {"location": "eastus"})
    arm.resources.seed(f"{group}/providers/Microsoft.ContainerRegistry/registries/{ACR}",
                       {"location": "eastus", "sku": {"name": "Basic"}, "properties": {}})
    env = make_cluster_env("acr", config={
        "target": "azure",
        "azure": {"subscription_id": SUBSCRIPTION, "resource_group": GROUP},
        "registry": {"name": ACR, "server": registry.host},
        "aks": {"node_vm_size": "Standard_D4s_v5"},
    })
    env.extra_env.update({"JHUBCTL_ARM_ENDPOINT": arm.url, "JHUBCTL_AZURE_ACCESS_TOKEN": ARM_TOKEN})
    yield AcrEnv(env, arm, blob, tasks, registry)
    stop_all([blob, registry], "a fake")
