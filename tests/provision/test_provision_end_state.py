"""After one `jhubctl provision`, Azure holds what the seed's `az` commands (section 5.2) would have made.

One provision per module (a module-scoped fake ARM); the table below mirrors every flag of the seed's
commands, minus what the seed gets wrong (docs/seed-mapping.md): no --docker-bridge-address (removed from
the AKS API), a system-assigned identity instead of a service principal and its password, the NSG and the
Microsoft.Storage endpoint on the subnet made explicit.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from jhubctl.azure import desired
from jhubctl.azure.arm import api_version
from jhubctl.azure.desired import Ids
from jhubctl.azure.provision import STEPS as PROVISION_STEPS

from tests.provision.conftest import (
    ABSENT,
    ACR,
    CLUSTER,
    NAME,
    NORMALISED_SOURCES,
    STORAGE,
    TOKEN,
    FakeArm,
    base_config,
    find,
    load_config,
    only_source,
    run_cli,
    start_kube,
)

SUB = "7d1c8f0e-5b8a-4c61-9a43-0c2f1d5e9b11"

RG = ""
REGISTRY = f"/providers/Microsoft.ContainerRegistry/registries/{ACR}"
VNET = "/providers/Microsoft.Network/virtualNetworks/jhub-vnet"
SUBNET = f"{VNET}/subnets/jhub-subnet"
NSG = "/providers/Microsoft.Network/networkSecurityGroups/jhub-nsg"
ACCOUNT = f"/providers/Microsoft.Storage/storageAccounts/{STORAGE}"
CONTAINER = f"{ACCOUNT}/blobServices/default/containers/users"
AKS = f"/providers/Microsoft.ContainerService/managedClusters/{CLUSTER}"
POOL = "properties.agentPoolProfiles[0]"
HTTPS = "properties.securityRules[properties.destinationPortRange=443].properties"
HTTP = "properties.securityRules[properties.destinationPortRange=80].properties"
ACLS = "properties.networkAcls"


def is_rsa_key(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("ssh-rsa ")


def same_items(*expected: str):  # noqa: ANN201 - a predicate
    def check(value: Any) -> bool:
        return sorted(value) == sorted(expected)

    check.__name__ = f"same items as {list(expected)}"
    return check


def ip_rule_values(*expected: str):  # noqa: ANN201
    def check(value: Any) -> bool:
        return sorted(r["value"] for r in value) == sorted(expected) and all(r.get("action", "Allow") == "Allow" for r in value)

    check.__name__ = f"ipRules allowing exactly {list(expected)}"
    return check


def length(n: int):  # noqa: ANN201
    def check(value: Any) -> bool:
        return isinstance(value, list) and len(value) == n

    check.__name__ = f"a list of {n}"
    return check


#: (resource id suffix after the resource group id, JSON path, expected value or predicate).
#: "{subnet}" / "{nsg}" stand for those resources' ids.
END_STATE = [
    # az group create --name <rg> --location eastus
    (RG, "location", "eastus"),
    (RG, "tags.jhubctl-env", NAME),
    # az acr create --sku Basic
    (REGISTRY, "sku.name", "Basic"),
    (REGISTRY, "location", "eastus"),
    (REGISTRY, "properties.adminUserEnabled", False),  # pulls go through the kubelet identity
    (REGISTRY, "tags.jhubctl-env", NAME),
    # az network vnet create --address-prefixes 10.0.0.0/8 --subnet-name --subnet-prefix 10.240.0.0/16
    (VNET, "properties.addressSpace.addressPrefixes", ["10.0.0.0/8"]),
    (VNET, "properties.subnets", length(1)),
    (VNET, "properties.subnets[name=jhub-subnet].properties.addressPrefix", "10.240.0.0/16"),
    (VNET, "location", "eastus"),
    (VNET, "tags.jhubctl-env", NAME),
    (SUBNET, "properties.addressPrefix", "10.240.0.0/16"),
    (SUBNET, "properties.serviceEndpoints[service=Microsoft.Storage].service", "Microsoft.Storage"),
    (SUBNET, "properties.networkSecurityGroup.id", "{nsg}"),
    # az network nsg rule create ... --priority 100 --destination-port-ranges 443 (and 200 / 80)
    #   --source-address-prefixes "$(curl ifconfig.me)" --access Allow --protocol TCP (inbound)
    (NSG, "properties.securityRules", length(2)),
    (NSG, f"{HTTPS}.priority", 100),
    (NSG, f"{HTTPS}.protocol", "Tcp"),
    (NSG, f"{HTTPS}.direction", "Inbound"),
    (NSG, f"{HTTPS}.access", "Allow"),
    (NSG, f"{HTTPS}.sourceAddressPrefixes", same_items(*NORMALISED_SOURCES)),
    (NSG, f"{HTTPS}.sourceAddressPrefix", ABSENT),  # never "*" unless allow_any_source
    (NSG, f"{HTTP}.priority", 200),
    (NSG, f"{HTTP}.protocol", "Tcp"),
    (NSG, f"{HTTP}.direction", "Inbound"),
    (NSG, f"{HTTP}.access", "Allow"),
    (NSG, f"{HTTP}.sourceAddressPrefixes", same_items(*NORMALISED_SOURCES)),
    (NSG, f"{HTTP}.sourceAddressPrefix", ABSENT),
    (NSG, "location", "eastus"),
    (NSG, "tags.jhubctl-env", NAME),
    # az storage account create --sku Standard_LRS --kind StorageV2 --default-action Deny --hns true
    #   --enable-nfs-v3 true --vnet-name --subnet; az storage account network-rule add --ip-address
    (ACCOUNT, "kind", "StorageV2"),
    (ACCOUNT, "sku.name", "Standard_LRS"),
    (ACCOUNT, "location", "eastus"),
    (ACCOUNT, "properties.isHnsEnabled", True),
    (ACCOUNT, "properties.isNfsV3Enabled", True),
    (ACCOUNT, "properties.supportsHttpsTrafficOnly", True),  # not applied to NFS 3.0 over TCP
    (ACCOUNT, f"{ACLS}.defaultAction", "Deny"),
    (ACCOUNT, f"{ACLS}.virtualNetworkRules", length(1)),
    (ACCOUNT, f"{ACLS}.virtualNetworkRules[id={{subnet}}].action", "Allow"),
    (ACCOUNT, f"{ACLS}.ipRules", ip_rule_values("203.0.113.7", "198.51.100.0/24")),  # bare IP for a /32
    (ACCOUNT, "tags.jhubctl-env", NAME),
    # az storage container create --name users
    (CONTAINER, "name", "users"),
    (CONTAINER, "properties.publicAccess", "None"),
    # az aks create --node-count 3 --node-vm-size Standard_D2s_v3 --vm-set-type VirtualMachineScaleSets
    #   --enable-cluster-autoscaler --min-count 3 --max-count 6 --network-plugin azure --network-policy azure
    #   --service-cidr 10.0.0.0/16 --dns-service-ip 10.0.0.10 --vnet-subnet-id --enable-blob-driver (the seed's
    #   service range lies inside its own VNet 10.0.0.0/8: jhubctl's default is outside it)
    #   --ssh-key-value (RSA); no --docker-bridge-address; managed identity instead of --service-principal
    (AKS, "properties.agentPoolProfiles", length(1)),
    (AKS, f"{POOL}.count", 3),
    (AKS, f"{POOL}.vmSize", "Standard_D2s_v3"),
    (AKS, f"{POOL}.type", "VirtualMachineScaleSets"),
    (AKS, f"{POOL}.enableAutoScaling", True),
    (AKS, f"{POOL}.minCount", 3),
    (AKS, f"{POOL}.maxCount", 6),
    (AKS, f"{POOL}.mode", "System"),
    (AKS, f"{POOL}.vnetSubnetID", "{subnet}"),
    (AKS, "properties.networkProfile.networkPlugin", "azure"),
    (AKS, "properties.networkProfile.networkPolicy", "azure"),
    (AKS, "properties.networkProfile.serviceCidr", "172.16.0.0/16"),
    (AKS, "properties.networkProfile.dnsServiceIP", "172.16.0.10"),
    (AKS, "properties.networkProfile.dockerBridgeCidr", ABSENT),
    (AKS, "properties.storageProfile.blobCSIDriver.enabled", True),
    (AKS, "properties.linuxProfile.ssh.publicKeys", length(1)),
    (AKS, "properties.linuxProfile.ssh.publicKeys[0].keyData", is_rsa_key),
    (AKS, "identity.type", "SystemAssigned"),
    (AKS, "properties.servicePrincipalProfile", ABSENT),  # no client secret anywhere
    (AKS, "location", "eastus"),
    (AKS, "tags.jhubctl-env", NAME),
]


@dataclass
class Provisioned:
    fake: FakeArm
    ids: Ids
    config: Any
    root: Path
    result: tuple[int, str, str]

    def resource(self, suffix: str) -> dict[str, Any]:
        rid = self.ids.group + suffix
        body = self.fake.resources.get(rid)
        assert body is not None, f"{rid} does not exist"
        return body

    def puts(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for rec in self.fake.requests:
            if rec.method == "PUT" and rec.fault is None:
                out.setdefault(rec.path.lower(), []).append(rec)
        return out


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One clean `jhubctl provision --yes` with a generated SSH key, in its own folder and environment."""
    root = tmp_path_factory.mktemp("provisioned")
    kube = start_kube(root / "kube-ca")
    fake = FakeArm(subscription_id=SUB, ca_dir=root / "ca", kubeconfig=kube.kubeconfig_text(CLUSTER)).start()
    with pytest.MonkeyPatch.context() as mp:
        for var in list(os.environ):
            if var.startswith("JHUBCTL_"):
                mp.delenv(var)
        mp.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_pem_path))
        mp.setenv("NO_PROXY", "127.0.0.1")
        mp.setenv("JHUBCTL_AZURE_ACCESS_TOKEN", TOKEN)
        mp.setenv("JHUBCTL_ARM_ENDPOINT", fake.url)
        (root / "jhubctl.yaml").write_text(yaml.safe_dump(base_config(SUB)))
        mp.chdir(root)
        result = run_cli("provision", "--yes")
    config = load_config(root / "jhubctl.yaml", environ={}).config
    yield Provisioned(fake, Ids(config, SUB), config, root, result)
    fake.stop()
    kube.stop()
    assert not fake.internal_errors, fake.internal_errors


def test_provision_succeeds(provisioned: Provisioned) -> None:
    code, _, err = provisioned.result
    assert code == 0, err


@pytest.mark.parametrize(("suffix", "path", "expected"), END_STATE,
                         ids=[f"{s.rsplit('/', 1)[-1] or 'group'}:{p}" for s, p, _ in END_STATE])
def test_end_state(provisioned: Provisioned, suffix: str, path: str, expected: Any) -> None:
    ids = provisioned.ids
    names = {"subnet": ids.subnet, "nsg": ids.nsg}
    value = find(provisioned.resource(suffix), path.format(**names))
    if callable(expected):
        assert expected(value), f"{path} = {value!r}: not {expected.__name__}"
    elif isinstance(expected, str) and "{" in expected:
        assert isinstance(value, str) and value.lower() == expected.format(**names).lower(), value
    else:
        assert value == expected, f"{path} = {value!r}, expected {expected!r}"


def test_every_resource_is_succeeded(provisioned: Provisioned) -> None:
    for rid in provisioned.fake.resources.ids():
        state = (provisioned.fake.resources.get(rid) or {}).get("properties", {}).get("provisioningState")
        assert state in (None, "Succeeded"), f"{rid}: {state}"


def test_role_assignments_replace_the_service_principal(provisioned: Provisioned) -> None:
    """Network Contributor for the cluster identity on the subnet; AcrPull for the kubelet identity on the
    registry (`--attach-acr`); both with principalType ServicePrincipal; nothing else, each exactly once."""
    fake, ids = provisioned.fake, provisioned.ids
    cluster = provisioned.resource(AKS)
    principal = cluster["identity"]["principalId"]
    kubelet = cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
    got = sorted(
        (ra["properties"]["scope"].lower(), ra["properties"]["roleDefinitionId"].lower(),
         ra["properties"]["principalId"].lower(), ra["properties"]["principalType"])
        for ra in fake.resources.role_assignments()
    )
    expected = sorted([
        (ids.subnet.lower(), ids.role_definition("Network Contributor").lower(), principal.lower(), "ServicePrincipal"),
        (ids.registry.lower(), ids.role_definition("AcrPull").lower(), kubelet.lower(), "ServicePrincipal"),
    ])
    assert got == expected
    # The role definition ids are Azure's built-in ones (the same in every tenant).
    assert "4d97b98b-1d4f-4787-a291-c67834d212e7" in expected[0][1] + expected[1][1]
    assert "7f951dda-4ed3-4680-a7ca-43fe172d538d" in expected[0][1] + expected[1][1]


def test_no_resource_outside_the_expected_set(provisioned: Provisioned) -> None:
    ids = provisioned.ids
    expected = {ids.group, ids.registry, ids.vnet, ids.subnet, ids.nsg, ids.storage, ids.container, ids.cluster,
                f"{ids.nsg}/securityRules/AllowHttpsInbound", f"{ids.nsg}/securityRules/AllowHttpInbound"}
    got = {rid for rid in provisioned.fake.resources.ids() if "/roleAssignments/" not in rid}
    assert {r.lower() for r in got} == {r.lower() for r in expected}


def test_every_taggable_resource_carries_the_environment_tag(provisioned: Provisioned) -> None:
    for rid in provisioned.fake.resources.ids():
        body = provisioned.fake.resources.get(rid) or {}
        if "location" in body:  # tracked (taggable) resources
            assert body.get("tags", {}).get("jhubctl-env") == NAME, rid


# -- the exact request bodies --------------------------------------------------------------------------------


def expected_bodies(p: Provisioned) -> dict[str, dict[str, Any]]:
    """Every PUT body, from jhubctl.azure.desired, for this config and these (normalised) source CIDRs."""
    config, ids = p.config, p.ids
    pubkey = (p.root / ".jhubctl" / "ssh" / "id_rsa.pub").read_text().strip()
    cluster = p.resource(AKS)
    principal = cluster["identity"]["principalId"]
    kubelet = cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
    return {
        "group": (ids.group, desired.group(config)),
        "registry": (ids.registry, desired.registry(config)),
        "nsg": (ids.nsg, desired.nsg(config, NORMALISED_SOURCES)),
        "vnet": (ids.vnet, desired.vnet(config, ids.nsg)),
        "storage": (ids.storage, desired.storage(config, ids.subnet, NORMALISED_SOURCES)),
        "container": (ids.container, desired.container()),
        "aks": (ids.cluster, desired.cluster(config, ids.subnet, pubkey)),
        "network-contributor": (ids.role_assignment(ids.subnet, "Network Contributor", principal),
                                desired.role_assignment(ids, "Network Contributor", principal)),
        "acr-pull": (ids.role_assignment(ids.registry, "AcrPull", kubelet),
                     desired.role_assignment(ids, "AcrPull", kubelet)),
    }


BODIES = ["group", "registry", "nsg", "vnet", "storage", "container", "aks", "network-contributor", "acr-pull"]


@pytest.mark.parametrize("name", BODIES)
def test_request_body_is_the_desired_body(provisioned: Provisioned, name: str) -> None:
    rid, body = expected_bodies(provisioned)[name]
    sent = provisioned.puts().get(rid.lower())
    assert sent, f"no PUT of {rid}"
    assert len(sent) == 1, f"{len(sent)} PUTs of {rid} in a clean run"
    assert sent[0].body == body
    if name != "group":  # the group goes through resource_groups.create_or_update, not the by-id path
        assert sent[0].query["api-version"] == api_version(rid)


def test_no_put_beyond_the_desired_bodies(provisioned: Provisioned) -> None:
    expected = {rid.lower() for rid, _ in expected_bodies(provisioned).values()}
    assert set(provisioned.puts()) == expected


def test_bodies_mirror_the_seed_flags_independently() -> None:
    """The desired bodies themselves, for a config with every value changed, hold the config's values
    (and nothing jhubctl must not send)."""
    config = load_config_from({
        **base_config(SUB),
        "name": "other-env",
        "azure": {"subscription_id": SUB, "location": "westeurope", "resource_group": "rg2"},
        "network": {"vnet_cidr": "10.8.0.0/13", "subnet_cidr": "10.9.0.0/16", "allowed_source_ips": ["192.0.2.1"]},
        "registry": {"name": ACR, "sku": "Premium"},
        "storage": {"account_name": STORAGE, "sku": "Premium_LRS"},
        "aks": {"node_count": 4, "min_count": 2, "max_count": 9, "node_vm_size": "Standard_D4s_v5",
                "service_cidr": "172.16.0.0/16", "dns_service_ip": "172.16.0.10", "network_policy": "calico",
                "kubernetes_version": "1.30.6"},
    })
    ids = Ids(config, SUB)
    aks = desired.cluster(config, ids.subnet, "ssh-rsa AAAA")
    pool = aks["properties"]["agentPoolProfiles"][0]
    assert (pool["count"], pool["minCount"], pool["maxCount"], pool["vmSize"]) == (4, 2, 9, "Standard_D4s_v5")
    assert aks["properties"]["networkProfile"] == {"networkPlugin": "azure", "networkPolicy": "calico",
                                                   "serviceCidr": "172.16.0.0/16", "dnsServiceIP": "172.16.0.10"}
    assert aks["properties"]["kubernetesVersion"] == "1.30.6"
    assert aks["location"] == "westeurope" and aks["tags"] == {"jhubctl-env": "other-env"}
    assert desired.registry(config)["sku"] == {"name": "Premium"}
    assert desired.storage(config, ids.subnet, ["192.0.2.1/32"])["sku"] == {"name": "Premium_LRS"}
    assert desired.storage(config, ids.subnet, ["192.0.2.1/32"])["properties"]["networkAcls"]["ipRules"] == [
        {"value": "192.0.2.1", "action": "Allow"}]
    vnet = desired.vnet(config, ids.nsg)
    assert vnet["properties"]["addressSpace"] == {"addressPrefixes": ["10.8.0.0/13"]}
    assert vnet["properties"]["subnets"][0]["properties"]["addressPrefix"] == "10.9.0.0/16"
    assert "/resourceGroups/rg2/" in ids.subnet


def load_config_from(data: dict[str, Any]) -> Any:
    from jhubctl.config import parse_config

    return parse_config(copy.deepcopy(data))


# -- allowed_source_ips: auto ------------------------------------------------------------------------------------


def test_auto_source_ip_asks_the_echo_service_once_and_opens_only_that_ip(make_env, ip_echo) -> None:
    env = make_env("auto", config={"network": {"allowed_source_ips": "auto"}})
    env.extra_env["JHUBCTL_IP_ECHO_URL"] = ip_echo.url
    env.provision_ok()
    assert ip_echo.hits == 1
    ids = env.ids
    nsg = env.fake.resources.get(ids.nsg)
    for rule in nsg["properties"]["securityRules"]:
        assert only_source(rule) == "198.51.100.23/32"
    acls = env.fake.resources.get(ids.storage)["properties"]["networkAcls"]
    assert acls["ipRules"] == [{"value": "198.51.100.23", "action": "Allow"}]
    assert env.journal()["network"]["outputs"]["source_ips"] == ["198.51.100.23/32"]


def test_allow_any_source_opens_the_nsg_but_adds_no_storage_ip_rule(make_env) -> None:
    env = make_env("any", config={"network": {"allowed_source_ips": ["0.0.0.0/0"], "allow_any_source": True}})
    env.provision_ok()
    nsg = env.fake.resources.get(env.ids.nsg)
    for rule in nsg["properties"]["securityRules"]:
        assert rule["properties"].get("sourceAddressPrefix") == "*"
    acls = env.fake.resources.get(env.ids.storage)["properties"]["networkAcls"]
    assert acls["ipRules"] == [] and acls["defaultAction"] == "Deny"


def test_journal_records_ids_not_secrets(provisioned: Provisioned) -> None:
    steps = json.loads((provisioned.root / ".jhubctl" / "state.json").read_text())["steps"]
    ids = provisioned.ids
    assert sorted(steps) == sorted(PROVISION_STEPS)
    assert all(s["status"] == "succeeded" for s in steps.values()), steps
    assert steps["network"]["outputs"]["subnet_id"].lower() == ids.subnet.lower()
    assert steps["registry"]["outputs"]["login_server"] == f"{ACR}.azurecr.io"
    assert steps["aks"]["outputs"]["id"].lower() == ids.cluster.lower()
    assert steps["resource-group"]["outputs"]["owned"] is True
