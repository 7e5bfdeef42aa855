"""Per-type behaviour: child authority, role assignments, AKS, validation, provider registration."""

from __future__ import annotations

import base64
import types
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from tests.fakes.arm import FakeArm

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def _vnet(subnets: list[dict] | None) -> dict:
    props: dict = {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}
    if subnets is not None:
        props["subnets"] = subnets
    return {"location": "eastus", "properties": props}


def _subnet(name: str, prefix: str, endpoints: tuple[str, ...] = ()) -> dict:
    props: dict = {"addressPrefix": prefix}
    if endpoints:
        props["serviceEndpoints"] = [{"service": e} for e in endpoints]
    return {"name": name, "properties": props}


def test_vnet_put_is_authoritative_over_subnets(arm_clients, rg: str) -> None:
    net = arm_clients.network
    vnet = net.virtual_networks.begin_create_or_update(rg, "vnet1", _vnet([_subnet("aks", "10.0.0.0/22"), _subnet("pe", "10.0.4.0/24")])).result()
    assert sorted(s.name for s in vnet.properties.subnets) == ["aks", "pe"]
    assert net.subnets.get(rg, "vnet1", "pe").properties.address_prefix == "10.0.4.0/24"

    # a subnet PUT as its own resource shows up in the VNet
    net.subnets.begin_create_or_update(rg, "vnet1", "extra", {"properties": {"addressPrefix": "10.0.8.0/24"}}).result()
    assert sorted(s.name for s in net.virtual_networks.get(rg, "vnet1").properties.subnets) == ["aks", "extra", "pe"]

    # a VNet PUT without subnets (e.g. only to change tags) deletes them all
    net.virtual_networks.begin_create_or_update(rg, "vnet1", {**_vnet(None), "tags": {"x": "y"}}).result()
    assert net.virtual_networks.get(rg, "vnet1").properties.subnets == []
    assert [s.name for s in net.subnets.list(rg, "vnet1")] == []


def test_nsg_put_is_authoritative_over_rules(arm_clients, rg: str) -> None:
    net = arm_clients.network
    rule = {
        "name": "https",
        "properties": {"priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "destinationPortRange": "443"},
    }
    net.network_security_groups.begin_create_or_update(rg, "nsg1", {"location": "eastus", "properties": {"securityRules": [rule]}}).result()
    assert net.security_rules.get(rg, "nsg1", "https").properties.priority == 100
    net.network_security_groups.begin_create_or_update(rg, "nsg1", {"location": "eastus"}).result()
    assert net.network_security_groups.get(rg, "nsg1").properties.security_rules == []


def test_subnet_in_use_by_aks_cannot_be_dropped(arm_clients, rg: str, aks_body) -> None:
    net = arm_clients.network
    vnet = net.virtual_networks.begin_create_or_update(rg, "vnet1", _vnet([_subnet("aks", "10.0.0.0/22")])).result()
    arm_clients.containerservice.managed_clusters.begin_create_or_update(rg, "aks1", aks_body(vnet.properties.subnets[0].id)).result()
    with pytest.raises(HttpResponseError) as in_use:
        net.virtual_networks.begin_create_or_update(rg, "vnet1", _vnet([])).result()
    assert in_use.value.status_code == 400 and in_use.value.error.code == "InUseSubnetCannotBeDeleted"
    assert [s.name for s in net.subnets.list(rg, "vnet1")] == ["aks"]


def _assignment(fake: FakeArm, role: str, principal: str, principal_type: str | None = "ServicePrincipal") -> dict:
    props = {"roleDefinitionId": f"/subscriptions/{fake.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}", "principalId": principal}
    if principal_type:
        props["principalType"] = principal_type
    return {"properties": props}


def test_role_assignments(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    auth = arm_clients.authorization.role_assignments
    acr = arm_clients.containerregistry.registries.begin_create(rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}).result()
    principal = fake_arm.operator_object_id
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{acr.id}|{ACR_PULL}|{principal}"))

    created = auth.create(acr.id, name, _assignment(fake_arm, ACR_PULL, principal))
    assert created.scope == acr.id and created.principal_id == principal
    assert fake_arm.writes()[-1].status == 201
    # same name, same content: idempotent
    assert auth.create(acr.id, name, _assignment(fake_arm, ACR_PULL, principal)).id == created.id

    with pytest.raises(ResourceExistsError) as dup:  # same principal+role+scope, another name
        auth.create(acr.id, str(uuid.uuid4()), _assignment(fake_arm, ACR_PULL, principal))
    assert dup.value.status_code == 409 and dup.value.error.code == "RoleAssignmentExists"

    with pytest.raises(HttpResponseError) as not_guid:
        auth.create(acr.id, "acr-pull-for-aks", _assignment(fake_arm, ACR_PULL, principal))
    assert not_guid.value.status_code == 400 and not_guid.value.error.code == "InvalidRoleAssignmentId"

    with pytest.raises(HttpResponseError) as reused:  # the same GUID for another role
        auth.create(acr.id, name, _assignment(fake_arm, NETWORK_CONTRIBUTOR, principal))
    assert reused.value.error.code == "RoleAssignmentUpdateNotPermitted"

    stranger = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as unknown:  # unknown principal and no principalType
        auth.create(acr.id, str(uuid.uuid4()), _assignment(fake_arm, ACR_PULL, stranger, principal_type=None))
    assert unknown.value.error.code == "PrincipalNotFound"
    auth.create(acr.id, str(uuid.uuid4()), _assignment(fake_arm, ACR_PULL, stranger))  # principalType set: accepted

    listed = list(auth.list_for_scope(acr.id, filter=f"principalId eq '{principal}'"))
    assert [a.name for a in listed] == [name]
    assert len(fake_arm.resources.role_assignments(principal_id=principal, scope=acr.id.upper())) == 1


def test_managed_cluster_computed_fields_and_kubeconfig(fake_arm_factory, aks_body) -> None:
    from tests.fakes.arm.fixtures import make_clients

    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
    fake = fake_arm_factory(kubeconfig=kubeconfig)
    clients = make_clients(fake)
    clients.resource.resource_groups.create_or_update("rg1", {"location": "eastus"})
    aks = clients.containerservice.managed_clusters.begin_create_or_update("rg1", "aks1", aks_body()).result()
    assert uuid.UUID(aks.identity.principal_id)
    kubelet = aks.identity_profile["kubeletidentity"]
    assert uuid.UUID(kubelet.object_id) and uuid.UUID(kubelet.client_id)
    assert kubelet.resource_id.endswith("/userAssignedIdentities/aks1-agentpool")
    assert aks.fqdn.startswith("jhub-") and aks.fqdn.endswith(".hcp.eastus.azmk8s.io")
    assert aks.node_resource_group == "MC_rg1_aks1_eastus"
    assert aks.agent_pool_profiles[0].provisioning_state == "Succeeded"

    creds = clients.containerservice.managed_clusters.list_cluster_user_credentials("rg1", "aks1")
    assert creds.kubeconfigs[0].value.decode() == kubeconfig
    assert not any(r.path.endswith("listClusterUserCredential") for r in fake.writes())  # read-only POST

    # identities are stable across a re-run and known to the fake directory (AcrPull without principalType)
    again = clients.containerservice.managed_clusters.begin_create_or_update("rg1", "aks1", aks_body()).result()
    assert again.identity.principal_id == aks.identity.principal_id
    assert again.identity_profile["kubeletidentity"].object_id == kubelet.object_id
    acr = clients.containerregistry.registries.begin_create("rg1", "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}}).result()
    clients.authorization.role_assignments.create(acr.id, str(uuid.uuid4()), _assignment(fake, ACR_PULL, kubelet.object_id, None))


def test_managed_cluster_validation(arm_clients, rg: str, aks_body) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    ed_pub = ed_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    mc = arm_clients.containerservice.managed_clusters
    with pytest.raises(HttpResponseError) as bad_key:
        mc.begin_create_or_update(rg, "aks1", aks_body(ssh_key=ed_pub))
    assert bad_key.value.error.code == "InvalidParameter"
    assert "linuxProfile.ssh.publicKeys.keyData" in bad_key.value.error.message

    with pytest.raises(HttpResponseError) as bridge:
        mc.begin_create_or_update(rg, "aks1", aks_body(dockerBridgeCidr="172.17.0.1/16"))
    assert bridge.value.status_code == 400 and bridge.value.error.target == "networkProfile.dockerBridgeCidr"


def test_name_rules(arm_clients, rg: str) -> None:
    with pytest.raises(HttpResponseError) as storage:
        arm_clients.storage.storage_accounts.begin_create(rg, "Jhub-Data", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})
    assert storage.value.status_code == 400 and storage.value.error.code == "AccountNameInvalid"
    with pytest.raises(HttpResponseError) as acr:
        arm_clients.containerregistry.registries.begin_create(rg, "jhub-acr", {"location": "eastus", "sku": {"name": "Basic"}})
    assert acr.value.status_code == 400
    with pytest.raises(HttpResponseError) as no_location:
        arm_clients.containerregistry.registries.begin_create(rg, "jhubacr01", {"sku": {"name": "Basic"}})
    assert no_location.value.error.code == "LocationRequired"


def test_snake_case_keys_have_no_effect(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    # Hybrid-model clients (storage, network, resource, containerservice) send a dict verbatim:
    # the fake stores the unknown key and never reads it, as ARM ignores it.
    account = arm_clients.storage.storage_accounts.begin_create(
        rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {"is_hns_enabled": True}}
    ).result()
    assert account.properties.is_hns_enabled is None
    assert fake_arm.resources.get(account.id)["properties"]["is_hns_enabled"] is True

    # msrest-style clients (containerregistry 14, authorization 4) re-serialise dicts through their
    # models: the nested snake_case key never leaves the process.
    acr = arm_clients.containerregistry.registries.begin_create(
        rg, "jhubacr01", {"location": "eastus", "sku": {"name": "Basic"}, "properties": {"admin_user_enabled": True}}
    ).result()
    assert acr.admin_user_enabled is False
    assert "admin_user_enabled" not in fake_arm.writes()[-1].body.get("properties", {})
    with pytest.raises(HttpResponseError):
        arm_clients.containerregistry.registries.list_credentials(rg, "jhubacr01")


def test_storage_vnet_rule_needs_service_endpoint(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    net = arm_clients.network
    vnet = net.virtual_networks.begin_create_or_update(
        rg, "vnet1", _vnet([_subnet("plain", "10.0.0.0/24"), _subnet("aks", "10.0.4.0/22", ("Microsoft.Storage",))])
    ).result()
    ids = {s.name: s.id for s in vnet.properties.subnets}

    def create(subnet: str):
        body = {
            "location": "eastus",
            "sku": {"name": "Standard_LRS"},
            "kind": "StorageV2",
            "properties": {"networkAcls": {"defaultAction": "Deny", "virtualNetworkRules": [{"id": ids[subnet], "action": "Allow"}]}},
        }
        return arm_clients.storage.storage_accounts.begin_create(rg, "jhubdata01", body).result()

    failed = create("plain")
    assert failed.id is None  # the SDK returns an empty object; the code is only in the monitor body
    monitor = [r for r in fake_arm.requests if "/operationresults/" in r.path.lower()][-1]
    assert monitor.response.body["error"]["code"] == "NetworkAclsValidationFailure"

    ok = create("aks")
    assert ok.properties.provisioning_state == "Succeeded"
    assert ok.properties.network_rule_set.virtual_network_rules[0].virtual_network_resource_id == ids["aks"]


def test_provider_registration(fake_arm_factory, monkeypatch) -> None:
    from tests.fakes.arm.fixtures import make_clients

    fake = fake_arm_factory(unregistered_providers=["Microsoft.ContainerService"])
    clients = make_clients(fake)
    clients.resource.resource_groups.create_or_update("rg1", {"location": "eastus"})
    assert clients.resource.providers.get("Microsoft.ContainerService").registration_state == "NotRegistered"
    with pytest.raises(ResourceExistsError) as missing:  # begin_*: the SDK's auto-registration does not kick in
        clients.containerservice.managed_clusters.begin_create_or_update("rg1", "aks1", {"location": "eastus"})
    assert missing.value.error.code == "MissingSubscriptionRegistration"

    assert clients.resource.providers.register("Microsoft.ContainerService").registration_state == "Registering"
    assert clients.resource.providers.get("Microsoft.ContainerService").registration_state == "Registered"
    assert fake.writes()[-1].path.endswith("/providers/Microsoft.ContainerService/register")


def test_sdk_auto_registration_works_for_non_lro_calls(fake_arm: FakeArm, arm_clients, rg: str, monkeypatch) -> None:
    import azure.mgmt.core.policies._base as arm_policies

    slept: list[float] = []
    monkeypatch.setattr(arm_policies, "time", types.SimpleNamespace(sleep=slept.append))  # it sleeps 10 s per check
    arm_clients.storage.storage_accounts.begin_create(rg, "jhubdata01", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result()
    fake_arm.resources.set_provider_state("Microsoft.Storage", "NotRegistered")
    assert arm_clients.storage.blob_containers.create(rg, "jhubdata01", "users", {}).name == "users"
    assert slept == [10]
    assert [r.action for r in fake_arm.writes() if r.method == "POST"] == ["register"]


def test_seed_and_kubeconfig_default(fake_arm: FakeArm, arm_clients, rg: str, aks_body) -> None:
    cluster_id = f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/aks1"
    seeded = fake_arm.resources.seed(cluster_id, aks_body())
    assert seeded["properties"]["provisioningState"] == "Succeeded"
    value = arm_clients.containerservice.managed_clusters.list_cluster_user_credentials(rg, "aks1").kubeconfigs[0].value
    assert f"server: https://{seeded['properties']['fqdn']}:443" in value.decode()
    assert base64.b64decode(fake_arm.requests[-1].response.body["kubeconfigs"][0]["value"]) == value
