"""The ARM adapter's calls match the installed Azure SDK's signatures.

azure-mgmt-resource 23-25 take `api_version` positionally in the by-id operations, so the adapter's
`begin_create_or_update_by_id(id, body, api_version=...)` raised `TypeError: got multiple values for
argument 'api_version'` on every PUT, while pyproject allowed them. Here every adapter method runs against
autospecced SDK operations (mock's autospec checks each call against the real signature), so a version
whose signatures differ fails this test; CI runs it on the declared floors too (.ci/run).
"""

from __future__ import annotations

import inspect
from typing import Any
from unittest import mock

import pytest

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct"
DONE = {"id": RID, "properties": {"provisioningState": "Succeeded"}}


def checked(cls: type) -> Any:
    """A stand-in for an SDK client class whose constructor call is checked against the real one."""

    def build(*args: Any, **kwargs: Any) -> Any:
        inspect.signature(cls).bind(*args, **kwargs)
        return mock.Mock()

    return build


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch) -> Any:
    import azure.mgmt.containerservice
    import azure.mgmt.resource.resources
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.resource.resources.operations import (
        ProvidersOperations,
        ResourceGroupsOperations,
        ResourcesOperations,
    )

    from jhubctl.azure.arm import Arm

    monkeypatch.setattr(azure.mgmt.resource.resources, "ResourceManagementClient", checked(ResourceManagementClient))
    arm = Arm("https://management.azure.com", SUB, credential=object())
    arm.resources.resources = mock.create_autospec(ResourcesOperations, instance=True)
    arm.resources.resource_groups = mock.create_autospec(ResourceGroupsOperations, instance=True)
    arm.resources.providers = mock.create_autospec(ProvidersOperations, instance=True)
    arm.resources.resources.get_by_id.return_value.as_dict.return_value = DONE
    arm.resources.resources.begin_create_or_update_by_id.return_value.result.return_value.as_dict.return_value = DONE
    arm.resources.resource_groups.get.return_value.as_dict.return_value = {"id": "g"}
    arm.resources.resource_groups.create_or_update.return_value.as_dict.return_value = {"id": "g"}
    arm.resources.providers.get.return_value.registration_state = "Registered"

    # Older releases are multi-API (operations under a versioned module): ask a real client for the class.
    real = ContainerServiceClient(object(), SUB, base_url="https://management.azure.com")
    clusters = mock.create_autospec(type(real.managed_clusters), instance=True)
    clusters.list_cluster_user_credentials.return_value.kubeconfigs = [mock.Mock(value=b"apiVersion: v1")]

    def container_service(*args: Any, **kwargs: Any) -> Any:
        inspect.signature(ContainerServiceClient).bind(*args, **kwargs)
        return mock.Mock(managed_clusters=clusters)

    monkeypatch.setattr(azure.mgmt.containerservice, "ContainerServiceClient", container_service)
    return arm


def test_every_adapter_call_matches_the_installed_sdk(arm: Any) -> None:
    assert arm.get(RID) == DONE
    assert arm.put(RID, {"location": "eastus"}) == DONE
    arm.delete(RID)
    assert arm.get_group("rg") == {"id": "g"}
    assert arm.put_group("rg", {"location": "eastus"}) == {"id": "g"}
    arm.delete_group("rg")
    assert arm.group_resources("rg") == []
    assert arm.unregistered() == []
    arm.register(["Microsoft.Storage"])
    assert arm.cluster_user_kubeconfig("rg", "aks") == b"apiVersion: v1"
    put = arm.resources.resources.begin_create_or_update_by_id
    assert put.call_args.kwargs["api_version"] == "2023-05-01"


def test_the_check_catches_the_old_positional_api_version() -> None:
    """What azure-mgmt-resource 25 declared; the same call must not bind to it."""

    def begin_create_or_update_by_id(self: Any, resource_id: str, api_version: str, parameters: Any,
                                     **kwargs: Any) -> Any: ...

    operations = type("ResourcesOperations", (), {"begin_create_or_update_by_id": begin_create_or_update_by_id})
    spec = mock.create_autospec(operations, instance=True)
    with pytest.raises(TypeError, match="multiple values for argument 'api_version'"):
        spec.begin_create_or_update_by_id(RID, {}, api_version="2023-05-01")
