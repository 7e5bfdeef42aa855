"""Fault injection: transient 429/500 at a rate, scripted answers, lost answers, hooks, concurrency."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError

from tests.fakes.arm import FakeArm, FaultResponse, RequestRecord
from tests.fakes.arm.fixtures import make_clients

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def _role(fake: FakeArm, scope: str, role: str, principal: str) -> tuple[str, str, dict[str, Any]]:
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{role}|{principal}"))
    role_id = f"/subscriptions/{fake.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    return scope, name, {"properties": {"roleDefinitionId": role_id, "principalId": principal, "principalType": "ServicePrincipal"}}


def _provision(c: Any, fake: FakeArm, aks_body: Any) -> None:
    """Roughly what `jhubctl provision` does, in order."""
    for ns in ("Microsoft.ContainerService", "Microsoft.ContainerRegistry", "Microsoft.Network", "Microsoft.Storage"):
        c.resource.providers.register(ns)
    c.resource.resource_groups.create_or_update("jhub", {"location": "eastus", "tags": {"app": "jhub"}})
    nsg = c.network.network_security_groups.begin_create_or_update("jhub", "jhub-nsg", {"location": "eastus"}).result()
    subnet = {"name": "aks", "properties": {"addressPrefix": "10.0.0.0/22", "serviceEndpoints": [{"service": "Microsoft.Storage"}], "networkSecurityGroup": {"id": nsg.id}}}
    vnet = c.network.virtual_networks.begin_create_or_update(
        "jhub", "jhub-vnet", {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [subnet]}}
    ).result()
    subnet_id = vnet.properties.subnets[0].id
    acr = c.containerregistry.registries.begin_create("jhub", "jhubacr01", {"location": "eastus", "sku": {"name": "Standard"}}).result()
    c.storage.storage_accounts.begin_create(
        "jhub",
        "jhubdata01",
        {
            "location": "eastus",
            "sku": {"name": "Premium_LRS"},
            "kind": "BlockBlobStorage",
            "properties": {"isHnsEnabled": True, "isNfsV3Enabled": True, "networkAcls": {"defaultAction": "Deny", "virtualNetworkRules": [{"id": subnet_id}]}},
        },
    ).result()
    c.storage.blob_containers.create("jhub", "jhubdata01", "users", {"properties": {"publicAccess": "None"}})
    aks = c.containerservice.managed_clusters.begin_create_or_update("jhub", "jhub-aks", aks_body(subnet_id)).result()
    c.authorization.role_assignments.create(*_role(fake, acr.id, ACR_PULL, aks.identity_profile["kubeletidentity"].object_id))
    c.authorization.role_assignments.create(*_role(fake, subnet_id, NETWORK_CONTRIBUTOR, aks.identity.principal_id))
    c.containerservice.managed_clusters.list_cluster_user_credentials("jhub", "jhub-aks")


def _assert_provisioned(fake: FakeArm) -> None:
    rg = f"/subscriptions/{fake.subscription_id}/resourceGroups/jhub"
    for rid in (
        f"{rg}/providers/Microsoft.Network/networkSecurityGroups/jhub-nsg",
        f"{rg}/providers/Microsoft.Network/virtualNetworks/jhub-vnet",
        f"{rg}/providers/Microsoft.ContainerRegistry/registries/jhubacr01",
        f"{rg}/providers/Microsoft.Storage/storageAccounts/jhubdata01",
        f"{rg}/providers/Microsoft.ContainerService/managedClusters/jhub-aks",
    ):
        assert fake.resources.get(rid)["properties"]["provisioningState"] == "Succeeded", rid
    assert fake.resources.get(f"{rg}/providers/Microsoft.Network/virtualNetworks/jhub-vnet/subnets/aks") is not None
    assert fake.resources.get(f"{rg}/providers/Microsoft.Storage/storageAccounts/jhubdata01/blobServices/default/containers/users") is not None
    assert len(fake.resources.role_assignments()) == 2


def test_sdk_retries_20_percent_429_and_500(fake_arm: FakeArm, aks_body) -> None:
    fake_arm.faults.set_rate(0.2, statuses=(429, 500), seed=7)
    # Default policy: 3 status retries; a request faulted twice in a row sleeps 0.8 * 2**n s
    # (500s carry no Retry-After). A small factor keeps the test fast; the retries are the same.
    _provision(make_clients(fake_arm, retry_backoff_factor=0.01), fake_arm, aks_body)
    _assert_provisioned(fake_arm)
    injected = Counter(f.status for f in fake_arm.faults.injected)
    assert injected[429] > 0 and injected[500] > 0
    total = len(fake_arm.requests)
    assert 0.1 < sum(injected.values()) / total < 0.35
    # every faulted request was sent again by the SDK's retry policy
    for fault in fake_arm.faults.injected:
        later = [r for r in fake_arm.requests if r.seq > fault.seq and r.method == fault.method and r.path == fault.path]
        assert later, fault


def test_same_seed_same_faults(fake_arm_factory, aks_body) -> None:
    runs = []
    for _ in range(2):
        fake = fake_arm_factory(subscription_id="00000000-0000-0000-0000-000000000001")
        fake.faults.set_rate(0.2, seed=3)
        _provision(make_clients(fake), fake, aks_body)
        runs.append([(f.method, f.status) for f in fake.faults.injected])
    assert runs[0] == runs[1] and runs[0]


def test_lost_answer_after_write_is_idempotent_for_role_assignments(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    scope = f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/{rg}"
    fake_arm.faults.inject(500, "InternalServerError", method="PUT", path_contains="roleAssignments", after=True)
    arm_clients.authorization.role_assignments.create(*_role(fake_arm, scope, ACR_PULL, fake_arm.operator_object_id))
    puts = [r for r in fake_arm.writes(include_faulted=True) if "roleassignments" in r.path.lower()]
    assert [(r.status, r.fault) for r in puts] == [(500, 500), (201, None)]
    assert len(fake_arm.writes()) == 2  # the RG and the successful retry
    assert len(fake_arm.resources.role_assignments()) == 1


def test_scripted_error_and_hook(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    fake_arm.faults.inject(409, "StorageAccountAlreadyTaken", "The storage account named jhubdata01 is already taken.", path_contains="/storageAccounts/jhubdata01")
    with pytest.raises(ResourceExistsError) as taken:
        arm_clients.storage.storage_accounts.begin_create(rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})
    assert taken.value.error.code == "StorageAccountAlreadyTaken"

    seen: list[str] = []

    def hook(rec: RequestRecord) -> FaultResponse | None:
        seen.append(rec.method)
        if rec.method == "GET" and seen.count("GET") == 1:
            return FaultResponse(503, "ServiceUnavailable", "try again", retry_after="0.01")
        return None

    fake_arm.faults.hook = hook
    assert arm_clients.resource.resource_groups.get(rg).name == rg  # the 503 was retried
    assert seen == ["GET", "GET"]
    assert fake_arm.faults.count(503) == 1 and fake_arm.faults.count() == 2


def test_parallel_operations_on_the_threaded_server(fake_arm: FakeArm, arm_clients, rg: str, aks_body) -> None:
    jobs = [
        lambda: arm_clients.containerregistry.registries.begin_create(rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}).result(),
        lambda: arm_clients.storage.storage_accounts.begin_create(rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result(),
        lambda: arm_clients.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks_body()).result(),
        lambda: arm_clients.network.network_security_groups.begin_create_or_update(rg, "nsg1", {"location": "eastus"}).result(),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: job(), jobs))
    assert all(r.id for r in results)
    assert len(fake_arm.resources.ids()) == 5
