"""Long-running operations: each Azure polling style completes through the real SDK pollers."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.fakes.arm import FakeArm, RequestRecord


def _polls(fake: FakeArm, leaf: str) -> list[RequestRecord]:
    return [r for r in fake.requests if r.method == "GET" and f"/{leaf}/" in r.path.lower()]


def _create_vnet(c: Any, rg: str, subnets: list[dict[str, Any]] | None = None) -> Any:
    props: dict[str, Any] = {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}
    if subnets is not None:
        props["subnets"] = subnets
    return c.network.virtual_networks.begin_create_or_update(rg, "vnet1", {"location": "eastus", "properties": props}).result()


ASYNC_CREATES: dict[str, Callable[[Any, str, Callable[..., dict]], Any]] = {
    "acr": lambda c, rg, aks: c.containerregistry.registries.begin_create(rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}),
    "vnet": lambda c, rg, aks: c.network.virtual_networks.begin_create_or_update(
        rg, "vnet1", {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}
    ),
    "subnet": lambda c, rg, aks: (
        _create_vnet(c, rg),
        c.network.subnets.begin_create_or_update(rg, "vnet1", "aks", {"properties": {"addressPrefix": "10.0.0.0/22"}}),
    )[1],
    "nsg": lambda c, rg, aks: c.network.network_security_groups.begin_create_or_update(rg, "nsg1", {"location": "eastus"}),
    "security_rule": lambda c, rg, aks: (
        c.network.network_security_groups.begin_create_or_update(rg, "nsg1", {"location": "eastus"}).result(),
        c.network.security_rules.begin_create_or_update(
            rg,
            "nsg1",
            "allow-https",
            {
                "properties": {
                    "priority": 100,
                    "direction": "Inbound",
                    "access": "Allow",
                    "protocol": "Tcp",
                    "sourceAddressPrefix": "*",
                    "sourcePortRange": "*",
                    "destinationAddressPrefix": "*",
                    "destinationPortRange": "443",
                }
            },
        ),
    )[1],
    "aks": lambda c, rg, aks: c.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks()),
}


@pytest.mark.parametrize("case", sorted(ASYNC_CREATES))
def test_azure_async_operation_style_completes(case: str, fake_arm: FakeArm, arm_clients, rg: str, aks_body) -> None:
    poller = ASYNC_CREATES[case](arm_clients, rg, aks_body)
    result = poller.result()
    state = getattr(result, "provisioning_state", None) or result.properties.provisioning_state
    assert state == "Succeeded"

    initial = [r for r in fake_arm.writes() if r.path.lower() == result.id.lower()][-1]
    assert initial.status == 201
    assert "Azure-AsyncOperation" in initial.response.headers
    network = case in ("vnet", "subnet", "nsg", "security_rule")
    assert initial.response.body["properties"]["provisioningState"] == ("Updating" if network else "Creating")
    statuses = [p.response.body["status"] for p in _polls(fake_arm, "operations")]
    assert statuses[-2:] == ["InProgress", "Succeeded"]
    assert all(p.response.headers.get("Retry-After") for p in _polls(fake_arm, "operations") if p.response.body["status"] == "InProgress")


def test_storage_location_style_completes(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    account = arm_clients.storage.storage_accounts.begin_create(
        rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {"isHnsEnabled": True}}
    ).result()
    assert account.properties.provisioning_state == "Succeeded"
    assert account.properties.primary_endpoints.blob == "https://jhubdata01.blob.core.windows.net/"
    assert account.properties.is_hns_enabled is True

    initial = fake_arm.writes()[-1]
    assert initial.status == 202 and initial.response.body is None
    assert "Location" in initial.response.headers and "Azure-AsyncOperation" not in initial.response.headers
    assert [p.status for p in _polls(fake_arm, "operationresults")] == [202, 200]


def test_sync_types_answer_at_once(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    arm_clients.storage.storage_accounts.begin_create(rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result()
    container = arm_clients.storage.blob_containers.create(rg, "jhubdata01", "users", {"properties": {"publicAccess": "None"}})
    assert container.name == "users"
    assert container.id.endswith("/storageAccounts/jhubdata01/blobServices/default/containers/users")
    assert fake_arm.writes()[-1].status == 201
    assert arm_clients.storage.blob_containers.create(rg, "jhubdata01", "users", {}).name == "users"
    assert fake_arm.writes()[-1].status == 200


DELETES: dict[str, tuple[Callable[[Any, str, Callable[..., dict]], Any], Callable[[Any, str], Any], Callable[[Any, str], Any]]] = {
    "acr": (
        lambda c, rg, aks: c.containerregistry.registries.begin_create(rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}).result(),
        lambda c, rg: c.containerregistry.registries.begin_delete(rg, "jhubacr01").result(),
        lambda c, rg: c.containerregistry.registries.get(rg, "jhubacr01"),
    ),
    "vnet": (
        lambda c, rg, aks: _create_vnet(c, rg),
        lambda c, rg: c.network.virtual_networks.begin_delete(rg, "vnet1").result(),
        lambda c, rg: c.network.virtual_networks.get(rg, "vnet1"),
    ),
    "aks": (
        lambda c, rg, aks: c.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks()).result(),
        lambda c, rg: c.containerservice.managed_clusters.begin_delete(rg, "aks1").result(),
        lambda c, rg: c.containerservice.managed_clusters.get(rg, "aks1"),
    ),
    "storage": (
        lambda c, rg, aks: c.storage.storage_accounts.begin_create(rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result(),
        lambda c, rg: c.storage.storage_accounts.delete(rg, "jhubdata01"),
        lambda c, rg: c.storage.storage_accounts.get_properties(rg, "jhubdata01"),
    ),
    "resource_group": (
        lambda c, rg, aks: None,
        lambda c, rg: c.resource.resource_groups.begin_delete(rg).result(),
        lambda c, rg: c.resource.resource_groups.get(rg),
    ),
}


@pytest.mark.parametrize("case", sorted(DELETES))
def test_delete_styles(case: str, fake_arm: FakeArm, arm_clients, rg: str, aks_body) -> None:
    create, delete, get = DELETES[case]
    create(arm_clients, rg, aks_body)
    delete(arm_clients, rg)
    with pytest.raises(ResourceNotFoundError):
        get(arm_clients, rg)
    request = fake_arm.writes()[-1]
    assert request.method == "DELETE"
    if case == "storage":
        assert request.status == 200  # storage deletes synchronously
    else:
        assert request.status == 202 and "Location" in request.response.headers
        assert ("Azure-AsyncOperation" in request.response.headers) == (case != "resource_group")


def test_get_during_operation_shows_creating_then_succeeded(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    arm_clients.containerregistry.registries.begin_create(rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}, polling=False)
    assert arm_clients.containerregistry.registries.get(rg, "jhubacr01").provisioning_state == "Creating"
    assert arm_clients.containerregistry.registries.get(rg, "jhubacr01").provisioning_state == "Succeeded"


def test_latency_is_wall_time_and_polls_follow_retry_after(fake_arm_factory, aks_body) -> None:
    from tests.fakes.arm.fixtures import make_clients

    fake = fake_arm_factory(latency={"Microsoft.ContainerService/managedClusters": 0.4, "microsoft.containerservice/managedclusters:delete": 0.2})
    clients = make_clients(fake)
    clients.resource.resource_groups.create_or_update("rg1", {"location": "eastus"})
    started = time.monotonic()
    clients.containerservice.managed_clusters.begin_create_or_update("rg1", "aks1", aks_body()).result()
    assert 0.4 <= time.monotonic() - started < 2.0
    assert len(_polls(fake, "operations")) <= 4  # Retry-After tells the poller how long is left
    started = time.monotonic()
    clients.containerservice.managed_clusters.begin_delete("rg1", "aks1").result()
    assert 0.2 <= time.monotonic() - started < 1.5


def test_failed_lro_raises_with_the_error_code(fake_arm: FakeArm, arm_clients, rg: str, aks_body) -> None:
    cluster_id = f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/aks1"
    fake_arm.faults.fail_lro(cluster_id, "VMExtensionProvisioningError", "Node bootstrap failed.")
    poller = arm_clients.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks_body())
    with pytest.raises(HttpResponseError) as failed:
        poller.result()
    assert failed.value.error.code == "VMExtensionProvisioningError"
    assert arm_clients.containerservice.managed_clusters.get(rg, "aks1").provisioning_state == "Failed"
    # a re-run succeeds (the injected failure was for one operation)
    again = arm_clients.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks_body()).result()
    assert again.provisioning_state == "Succeeded"


def test_storage_failed_location_monitor_returns_empty_object(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    account_id = f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/jhubdata01"
    fake_arm.faults.fail_lro(account_id, "StorageAccountOperationFailed", "boom")
    result = arm_clients.storage.storage_accounts.begin_create(
        rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}
    ).result()  # no exception: the quirk jhubctl must check for
    assert result.id is None and result.properties is None
    monitor = _polls(fake_arm, "operationresults")[-1]
    assert monitor.status == 200 and monitor.response.body["status"] == "Failed"
    assert monitor.response.body["error"]["code"] == "StorageAccountOperationFailed"
    with pytest.raises(ResourceNotFoundError):
        arm_clients.storage.storage_accounts.get_properties(rg, "jhubdata01")


def test_network_op_lock_answers_another_operation_in_progress(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    _create_vnet(arm_clients, rg)
    first = arm_clients.network.subnets.begin_create_or_update(rg, "vnet1", "a", {"properties": {"addressPrefix": "10.0.0.0/24"}}, polling=False)
    with pytest.raises(ResourceExistsError) as busy:
        arm_clients.network.subnets.begin_create_or_update(rg, "vnet1", "b", {"properties": {"addressPrefix": "10.0.1.0/24"}})
    assert busy.value.error.code == "AnotherOperationInProgress"
    del first
    assert arm_clients.network.subnets.get(rg, "vnet1", "a").properties.provisioning_state == "Updating"
    assert arm_clients.network.subnets.get(rg, "vnet1", "a").properties.provisioning_state == "Succeeded"
    arm_clients.network.subnets.begin_create_or_update(rg, "vnet1", "b", {"properties": {"addressPrefix": "10.0.1.0/24"}}).result()
