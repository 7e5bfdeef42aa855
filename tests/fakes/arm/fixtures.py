"""pytest fixtures for the fake ARM.

Import them into a ``conftest.py``::

    from tests.fakes.arm.fixtures import arm_clients, fake_arm, fake_arm_factory  # noqa: F401

``fake_arm`` is a started :class:`FakeArm` with default settings; ``fake_arm_factory(**kwargs)``
starts one with other settings (latency, unregistered providers, kubeconfig ...). Both point
``REQUESTS_CA_BUNDLE`` at a bundle of the fakes' CAs for the test's duration, add 127.0.0.1 to
``NO_PROXY`` and fail the test if a fake itself crashed (``FakeArm.internal_errors``).
``arm_clients`` holds the six real SDK clients bound to ``fake_arm``; ``make_clients(fake,
**client_kwargs)`` builds more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ..base.fixtures import fake_factory, write_ca_bundle
from .server import FakeArm


@dataclass
class ArmClients:
    """The six SDK clients jhubctl uses, all pointed at one fake."""

    resource: Any
    network: Any
    storage: Any
    authorization: Any
    containerservice: Any
    containerregistry: Any


def make_clients(fake: FakeArm, **client_kwargs: Any) -> ArmClients:
    """Build real SDK clients for ``fake`` (imports lazily: they cost ~0.5 s)."""
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient

    cred, sub, url = fake.credential(), fake.subscription_id, fake.url
    return ArmClients(
        resource=ResourceManagementClient(cred, sub, base_url=url, **client_kwargs),
        network=NetworkManagementClient(cred, sub, base_url=url, **client_kwargs),
        storage=StorageManagementClient(cred, sub, base_url=url, **client_kwargs),
        authorization=AuthorizationManagementClient(cred, sub, base_url=url, **client_kwargs),
        containerservice=ContainerServiceClient(cred, sub, base_url=url, **client_kwargs),
        containerregistry=ContainerRegistryManagementClient(cred, sub, base_url=url, **client_kwargs),
    )


@pytest.fixture
def fake_arm_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeArm]]:
    def trust(started: list[FakeArm]) -> None:
        # One bundle trusting every fake of this test, so several can run side by side.
        bundle = write_ca_bundle(tmp_path / "fake-arm-ca-bundle.pem", (f.ca_pem for f in started))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))

    yield from fake_factory(FakeArm, tmp_path, monkeypatch, "the fake ARM", trust)


@pytest.fixture
def fake_arm(fake_arm_factory: Callable[..., FakeArm]) -> FakeArm:
    return fake_arm_factory()


@pytest.fixture
def arm_clients(fake_arm: FakeArm) -> ArmClients:
    return make_clients(fake_arm)
