"""The desired ARM bodies, from the config: each mirrors a flag of the seed's `az` commands.

Pure functions of the config and of earlier steps' outputs, so tests can assert every body against a
table of the seed's flags without any Azure. docs/seed-mapping.md lists flag → key → body field.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ..config import Config

#: Built-in role definition ids (the same in every tenant).
ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
}
NSG_RULES = (("AllowHttpsInbound", 100, "443"), ("AllowHttpInbound", 200, "80"))  # the seed's priorities
NODE_POOL = "nodepool1"
ADMIN_USER = "azureuser"


@dataclass(frozen=True)
class Ids:
    config: Config
    subscription_id: str

    @property
    def group(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.config.azure.resource_group}"

    def _in_group(self, kind: str, name: str) -> str:
        return f"{self.group}/providers/{kind}/{name}"

    @property
    def registry(self) -> str:
        return self._in_group("Microsoft.ContainerRegistry/registries", self.config.registry.name or "")

    @property
    def vnet(self) -> str:
        return self._in_group("Microsoft.Network/virtualNetworks", self.config.network.vnet_name)

    @property
    def subnet(self) -> str:
        return f"{self.vnet}/subnets/{self.config.network.subnet_name}"

    @property
    def nsg(self) -> str:
        return self._in_group("Microsoft.Network/networkSecurityGroups", self.config.network.nsg_name)

    @property
    def storage(self) -> str:
        return self._in_group("Microsoft.Storage/storageAccounts", self.config.storage.account_name or "")

    @property
    def container(self) -> str:
        return f"{self.storage}/blobServices/default/containers/{self.config.storage.container}"

    @property
    def cluster(self) -> str:
        return self._in_group("Microsoft.ContainerService/managedClusters", self.config.aks.cluster_name)

    def role_definition(self, role: str) -> str:
        return f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"

    def role_assignment(self, scope: str, role: str, principal_id: str) -> str:
        """Deterministic GUID per (scope, role, principal): a re-run PUTs the same name, never a duplicate."""
        name = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{ROLES[role]}|{principal_id.lower()}")
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"


def short_id(resource: str) -> str:
    """An ARM id without the subscription and group prefix, for tables people read (JSON keeps ids whole)."""
    if not resource.startswith("/subscriptions/"):
        return resource
    if "/providers/" in resource:
        return resource.split("/providers/", 1)[1]
    return resource.split("/", 3)[3]  # resourceGroups/<name>


def tags(config: Config) -> dict[str, str]:
    return {"jhubctl-env": config.name}


def group(config: Config) -> dict[str, Any]:
    """az group create --name --location."""
    return {"location": config.azure.location, "tags": tags(config)}


def registry(config: Config) -> dict[str, Any]:
    """az acr create --sku Basic (admin user off: pulls go through the kubelet identity)."""
    return {
        "location": config.azure.location,
        "tags": tags(config),
        "sku": {"name": config.registry.sku},
        "properties": {"adminUserEnabled": False},
    }


def _prefixes(sources: list[str]) -> dict[str, Any]:
    """Exactly one of the two fields: Azure refuses both at once, and stores a one-element list in the
    singular field anyway (so sending the singular makes a re-run compare equal)."""
    if len(sources) == 1:
        return {"sourceAddressPrefix": sources[0]}
    return {"sourceAddressPrefixes": sources}


def rule_sources(properties: dict[str, Any]) -> list[str]:
    """A rule's source prefixes, whichever of the two fields holds them."""
    many = [str(p) for p in properties.get("sourceAddressPrefixes") or []]
    one = properties.get("sourceAddressPrefix")
    return sorted({*many, *([str(one)] if one else [])})


def nsg_comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The NSG with each rule's two source fields folded into one, for comparing wanted with actual."""
    import copy

    compare = copy.deepcopy(body)
    for rule in (compare.get("properties") or {}).get("securityRules") or []:
        props = rule.get("properties") or {}
        sources = rule_sources(props)
        props.pop("sourceAddressPrefix", None)
        props["sourceAddressPrefixes"] = sources
    return compare


def nsg(config: Config, sources: list[str]) -> dict[str, Any]:
    """az network nsg rule create ×2: TCP 443 (priority 100) and 80 (200) from the operator's IPs only."""
    rules = [
        {
            "name": name,
            "properties": {
                "priority": priority,
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                **_prefixes(sources),
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": port,
                "description": f"jhubctl: hub access on {port} for {config.name}",
            },
        }
        for name, priority, port in NSG_RULES
    ]
    return {"location": config.azure.location, "tags": tags(config), "properties": {"securityRules": rules}}


def subnet(config: Config, nsg_id: str) -> dict[str, Any]:
    """--subnet-prefix, plus the Microsoft.Storage endpoint the storage network rule requires, plus the NSG."""
    return {
        "name": config.network.subnet_name,
        "properties": {
            "addressPrefix": config.network.subnet_cidr,
            "serviceEndpoints": [{"service": "Microsoft.Storage"}],
            "networkSecurityGroup": {"id": nsg_id},
        },
    }


def vnet(config: Config, nsg_id: str) -> dict[str, Any]:
    """az network vnet create --address-prefixes --subnet-name --subnet-prefix (subnet inline)."""
    return {
        "location": config.azure.location,
        "tags": tags(config),
        "properties": {
            "addressSpace": {"addressPrefixes": [config.network.vnet_cidr]},
            "subnets": [subnet(config, nsg_id)],
        },
    }


def storage_ip(cidr: str) -> str:
    """Storage IP rules take a bare address for a single host (/31 and /32 are refused)."""
    return cidr[:-3] if cidr.endswith("/32") else cidr


def storage_kind(sku: str) -> str:
    """A premium account with a hierarchical namespace (and NFS) is a BlockBlobStorage account."""
    return "BlockBlobStorage" if sku.startswith("Premium_") else "StorageV2"


def storage(config: Config, subnet_id: str, sources: list[str]) -> dict[str, Any]:
    """az storage account create --sku --kind --hns --enable-nfs-v3 --default-action Deny --vnet/--subnet
    and az storage account network-rule add --ip-address.

    Secure transfer stays required: Azure does not apply it to NFS 3.0 over TCP, so mounts work and
    every REST access to the account still needs HTTPS.
    """
    ip_rules = [{"value": storage_ip(ip), "action": "Allow"} for ip in sources if ip != "*"]
    return {
        "location": config.azure.location,
        "tags": tags(config),
        "sku": {"name": config.storage.sku},
        "kind": storage_kind(config.storage.sku),
        "properties": {
            "isHnsEnabled": True,
            "isNfsV3Enabled": True,
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "networkAcls": {
                "defaultAction": "Deny",
                "bypass": "AzureServices",
                "virtualNetworkRules": [{"id": subnet_id, "action": "Allow"}],
                "ipRules": ip_rules,
            },
        },
    }


def container() -> dict[str, Any]:
    """az storage container create --name users (private)."""
    return {"properties": {"publicAccess": "None"}}


def cluster(
    config: Config, subnet_id: str, ssh_public_key: str, service_principal: tuple[str, str | None] | None = None
) -> dict[str, Any]:
    """az aks create with the seed's flags, minus --docker-bridge-address (removed from the API).

    Identity: system-assigned (no secret anywhere), or the seed's --service-principal/--client-secret
    when `service_principal` = (client id, secret) is given. The secret is needed to create the cluster
    only: an update without it keeps the one the cluster has (ARM never returns it).
    """
    aks = config.aks
    pool: dict[str, Any] = {
        "name": NODE_POOL,
        "mode": "System",
        "count": aks.node_count,
        "vmSize": aks.node_vm_size,
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": True,
        "minCount": aks.min_count,
        "maxCount": aks.max_count,
        "vnetSubnetID": subnet_id,
        "osType": "Linux",
    }
    properties: dict[str, Any] = {
        "dnsPrefix": aks.cluster_name,
        "agentPoolProfiles": [pool],
        "linuxProfile": {"adminUsername": ADMIN_USER, "ssh": {"publicKeys": [{"keyData": ssh_public_key}]}},
        "networkProfile": {
            "networkPlugin": aks.network_plugin,
            "networkPolicy": aks.network_policy,
            "serviceCidr": aks.service_cidr,
            "dnsServiceIP": aks.dns_service_ip,
        },
        "storageProfile": {"blobCSIDriver": {"enabled": True}},
    }
    if aks.kubernetes_version:
        properties["kubernetesVersion"] = aks.kubernetes_version
    body: dict[str, Any] = {"location": config.azure.location, "tags": tags(config)}
    if service_principal is None:
        body["identity"] = {"type": "SystemAssigned"}
    else:
        client_id, secret = service_principal
        properties["servicePrincipalProfile"] = {"clientId": client_id, **({"secret": secret} if secret else {})}
    body["properties"] = properties
    return body


def cluster_comparable(body: dict[str, Any]) -> dict[str, Any]:
    """What a re-run compares: the autoscaler owns the node count, and the SSH key cannot change in place."""
    import copy

    compare = copy.deepcopy(body)
    for pool in compare["properties"]["agentPoolProfiles"]:
        pool.pop("count", None)
    compare["properties"].pop("linuxProfile", None)
    compare["properties"].get("servicePrincipalProfile", {}).pop("secret", None)  # never returned by ARM
    return compare


def role_assignment(ids: Ids, role: str, principal_id: str) -> dict[str, Any]:
    """az role assignment create --assignee --role --scope; principalType avoids the new-identity race."""
    return {
        "properties": {
            "roleDefinitionId": ids.role_definition(role),
            "principalId": principal_id,
            "principalType": "ServicePrincipal",
        }
    }
