"""Resource store and per-type behaviour of the fake ARM.

The store keeps resources keyed by their *lowercased* id (ARM ids are case-insensitive) and
answers with the casing of the first PUT. Per-type classes (:class:`Kind` subclasses) hold only
what jhubctl's provisioning relies on or can get wrong:

* server-computed fields callers read (ACR ``loginServer``, storage ``primaryEndpoints``, AKS
  identities / ``fqdn`` / kubeconfig);
* Azure's LRO style per type (see :mod:`.lro`);
* the traps from NOTES.md: a VNet/NSG PUT is authoritative over its subnets/rules; role
  assignment names must be GUIDs and duplicates answer 409 ``RoleAssignmentExists``; a storage
  vnet rule on a subnet without the ``Microsoft.Storage`` endpoint ends ``Failed``; AKS rejects
  non-RSA SSH keys and (API ≥ 2023-04-01) ``dockerBridgeCidr``; unregistered providers answer
  ``MissingSubscriptionRegistration``;
* the rules of issue 7, each with the code and message shape real Azure answers (looked up in public
  issue threads; the few not found are marked UNVERIFIED below): an NSG rule with both source (or
  destination) prefix fields, and a one-element list stored in the singular field; storage IP rules that
  are not public IPv4 or are a /31 or /32; an NFS v3 account on a geo-redundant SKU, a premium one of kind
  StorageV2; an AKS service CIDR overlapping a subnet of its VNet, kubenet with network policy azure, a bad
  DNS prefix; a service principal AKS does not see yet (``ServicePrincipalNotFound``, invalid credentials)
  or without join rights on the subnet (``LinkedAuthorizationFailed``); a write to a storage account that
  is busy (``StorageAccountOperationInProgress``); transitional states set by :meth:`ResourceStore.hold`.

Request bodies are stored as sent: unknown keys (snake_case ones included) are kept but never
read, so a misspelt property silently has no effect — as with ARM.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import ipaddress
import re
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import unquote

from .common import ArmError, Reply, is_guid
from .faults import Faults
from .lro import LroEngine, LroSettings, LroStyle, Operation

#: Error code for an invalid registry name. NOT verified against Azure (no public spec or
#: recorded response found); the name rule itself (5-50 alphanumerics) is from the spec.
ACR_INVALID_NAME_CODE = "RegistryNameInvalid"
#: UNVERIFIED code (no public record found) for an NSG rule sending both prefix fields of one direction.
NSG_BOTH_PREFIXES_CODE = "SecurityRuleParameterContainsConflictingValues"
#: UNVERIFIED code for an invalid AKS dnsPrefix (the rule itself, 1-54 letters/digits/hyphens, is documented).
AKS_DNS_PREFIX_CODE = "InvalidParameter"

#: Ranges the storage firewall refuses in IP rules (only public internet addresses are allowed).
STORAGE_REFUSED = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"))
#: Built-in roles that carry Microsoft.Network/virtualNetworks/subnets/join/action: Owner, Contributor,
#: Network Contributor.
JOIN_ROLES = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
              "4d97b98b-1d4f-4787-a291-c67834d212e7"}

RG_TYPE = "Microsoft.Resources/resourceGroups"


# ------------------------------------------------------------------------------------------------
# Paths and ids
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    rtype: str  # full type as sent, e.g. Microsoft.Network/virtualNetworks/subnets
    name: str
    new_provider: bool  # starts a "/providers/{ns}/..." section (top-level or extension)


@dataclass(frozen=True)
class ArmPath:
    """A parsed ``/subscriptions/...`` path: resource segments plus an optional dangling type
    (a collection GET or a POST action)."""

    subscription: str
    segments: tuple[Segment, ...]
    dangling: str | None = None

    @property
    def rtype(self) -> str:
        return self.segments[-1].rtype if self.segments else ""

    @property
    def name(self) -> str:
        return self.segments[-1].name

    @property
    def parent(self) -> "ArmPath":
        return ArmPath(self.subscription, self.segments[:-1])

    def rg_name(self) -> str | None:
        if self.segments and self.segments[0].rtype.lower() == RG_TYPE.lower():
            return self.segments[0].name
        return None

    def id(self, canonical_type: Callable[[str], str] = lambda t: t) -> str:
        out = f"/subscriptions/{self.subscription}"
        for seg in self.segments:
            rtype = canonical_type(seg.rtype)
            if rtype.lower() == RG_TYPE.lower():
                out += f"/resourceGroups/{seg.name}"
            elif seg.new_provider:
                ns, first = rtype.split("/", 1)[0], rtype.rsplit("/", 1)[-1]
                out += f"/providers/{ns}/{first}/{seg.name}"
            else:
                out += f"/{rtype.rsplit('/', 1)[-1]}/{seg.name}"
        return out


def parse_path(path: str) -> ArmPath:
    """Parse an ARM path; raises 404 ``InvalidResourceType``-style errors on nonsense."""
    parts = [unquote(p) for p in path.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ArmError(404, "NotFound", f"The requested path '{path}' is not an ARM resource path.")
    sub, i, segs, prefix = parts[1], 2, [], None
    while i < len(parts):
        part = parts[i]
        if part.lower() == "resourcegroups" and not segs:
            if i + 1 >= len(parts):
                return ArmPath(sub, tuple(segs), RG_TYPE)
            segs.append(Segment(RG_TYPE, parts[i + 1], False))
            i += 2
            continue
        new_provider = part.lower() == "providers"
        if new_provider:
            if i + 2 >= len(parts):
                raise ArmError(404, "NotFound", f"The requested path '{path}' is not supported by the fake ARM.")
            prefix, i = parts[i + 1], i + 2
            part = parts[i]
        elif prefix is None:
            raise ArmError(404, "NotFound", f"The requested path '{path}' is not supported by the fake ARM.")
        full = f"{prefix}/{part}"
        if i + 1 >= len(parts):
            return ArmPath(sub, tuple(segs), full)
        segs.append(Segment(full, parts[i + 1], new_provider))
        prefix, i = full, i + 2
    return ArmPath(sub, tuple(segs))


def _norm_location(value: str) -> str:
    return value.replace(" ", "").lower()


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _deep_merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_merge(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


@dataclass
class Resource:
    id: str
    rtype: str
    body: dict[str, Any]  # location/tags/sku/identity/properties... (no id/name/type)
    created: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def props(self) -> dict[str, Any]:
        return self.body.setdefault("properties", {})


@dataclass
class PutContext:
    path: ArmPath
    rid: str
    existing: Resource | None
    body: dict[str, Any]
    api_version: str

    @property
    def props(self) -> dict[str, Any]:
        props = self.body.get("properties")
        return props if isinstance(props, dict) else {}


# ------------------------------------------------------------------------------------------------
# Per-type behaviour
# ------------------------------------------------------------------------------------------------
class Kind:
    """Default behaviour of a resource type; subclasses override what differs."""

    rtype = ""
    tracked = True  # has location/tags, location required
    put_style = LroStyle.SYNC
    delete_style = LroStyle.SYNC
    location_failure_quirk = False
    has_provisioning_state = True
    creating_state = "Creating"  # provisioningState while a create runs
    listed_in_group = True  # shows in GET /resourcegroups/{rg}/resources
    implicit = False  # exists whenever its parent exists (blobServices/default)
    #: Child collection kept inline in the parent's body (VNet subnets, NSG rules).
    child_list: tuple[str, str] | None = None  # (property name, child type)

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        """Raise :class:`ArmError` for requests Azure rejects synchronously."""

    def planned_error(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any] | None:
        """An error the asynchronous part of the write will end with (None = succeeds)."""
        return None

    def busy_ids(self, store: "ResourceStore", rid: str) -> set[str]:
        """Lowercased ids whose in-progress operations block a write to ``rid``."""
        return set()

    def busy_error(self, store: "ResourceStore", op: Operation) -> ArmError:
        return ArmError(409, "Conflict", "Another operation is in progress on this resource.")

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.tracked:
            body["location"] = _norm_location(str(ctx.body["location"]))
            body["tags"] = copy.deepcopy(ctx.body.get("tags") or {})
        for key in ("sku", "kind", "identity"):
            if key in ctx.body:
                body[key] = copy.deepcopy(ctx.body[key])
        props = copy.deepcopy(ctx.props)
        if self.child_list:
            props.pop(self.child_list[0], None)
        body["properties"] = props
        return body

    def render(self, store: "ResourceStore", res: Resource) -> dict[str, Any]:
        out: dict[str, Any] = {"id": res.id, "name": res.name, "type": self.rtype}
        out.update(copy.deepcopy(res.body))
        if self.child_list:
            prop, child_type = self.child_list
            out.setdefault("properties", {})[prop] = [
                store.render(child) for child in store.children(res.id, child_type)
            ]
        return out

    def on_finished(self, store: "ResourceStore", res: Resource, op: Operation, error: dict[str, Any] | None) -> None:
        state = "Failed" if error else "Succeeded"
        if op.kind == "delete" and not error:
            store.remove_tree(res.id)
            return
        res.props["provisioningState"] = state
        if self.child_list:
            for child in store.children(res.id, self.child_list[1]):
                child.props["provisioningState"] = state

    def action(self, store: "ResourceStore", res: Resource, name: str, body: Any) -> Reply:
        raise ArmError(404, "InvalidResourceType", f"The action '{name}' is not supported on '{self.rtype}' by the fake ARM.")


class ResourceGroupKind(Kind):
    rtype = RG_TYPE
    delete_style = LroStyle.LOCATION
    listed_in_group = False

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        if ctx.existing is not None:
            old, new = ctx.existing.body["location"], _norm_location(str(ctx.body["location"]))
            if old != new:
                raise ArmError(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{new}'. The Resource group already exists in location '{old}'.",
                )


class RegistryKind(Kind):
    rtype = "Microsoft.ContainerRegistry/registries"
    put_style = LroStyle.AZURE_ASYNC
    delete_style = LroStyle.AZURE_ASYNC

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        name = ctx.path.name
        if not (5 <= len(name) <= 50 and name.isascii() and name.isalnum()):
            raise ArmError(
                400,
                ACR_INVALID_NAME_CODE,
                "Registry names may contain only alpha numeric characters and must be between 5 and 50 characters.",
                target="registryName",
            )

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        if isinstance(body.get("sku"), dict) and "name" in body["sku"]:
            body["sku"].setdefault("tier", body["sku"]["name"])
        props = body["properties"]
        props.setdefault("adminUserEnabled", False)
        props["loginServer"] = f"{ctx.path.name.lower()}.azurecr.io"
        props["creationDate"] = ctx.existing.props.get("creationDate") if ctx.existing else _now_iso()
        return body

    def action(self, store: "ResourceStore", res: Resource, name: str, body: Any) -> Reply:
        if name.lower() == "listcredentials":
            if not res.props.get("adminUserEnabled"):
                raise ArmError(400, "AdminUserDisabled", "The admin user is disabled for this registry.")
            pw = hashlib.sha256(res.id.lower().encode()).hexdigest()[:32]
            return Reply(200, {"username": res.name, "passwords": [{"name": "password", "value": pw}, {"name": "password2", "value": pw[::-1]}]})
        return super().action(store, res, name, body)


class _NetworkKind(Kind):
    """VNet/NSG and their children share one op-lock: Azure answers 409 AnotherOperationInProgress."""

    put_style = LroStyle.AZURE_ASYNC
    delete_style = LroStyle.AZURE_ASYNC
    creating_state = "Updating"  # the network RP has no "Creating" state

    def _root(self, rid: str) -> str:
        # The VNet/NSG id: the first five segments after the subscription.
        parts = rid.split("/")
        return "/".join(parts[:9])

    def busy_ids(self, store: "ResourceStore", rid: str) -> set[str]:
        root = self._root(rid).lower()
        ids = {root, rid.lower()}
        ids.update(r.id.lower() for r in store.descendants(root))
        return ids

    def busy_error(self, store: "ResourceStore", op: Operation) -> ArmError:
        url = store.lro.status_url(op)
        return ArmError(
            409,
            "AnotherOperationInProgress",
            "Another operation on this or dependent resource is in progress. To retrieve status of the "
            f"operation use uri: {url}.",
            details=[],
        )


def _in_use_error(subnet_name: str, user_id: str) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        f"Subnet {subnet_name} is in use by {user_id} and cannot be deleted. In order to delete the subnet, "
        "delete all the resources within the subnet. See aka.ms/deletesubnet.",
        details=[],
    )


class VirtualNetworkKind(_NetworkKind):
    rtype = "Microsoft.Network/virtualNetworks"
    child_list = ("subnets", "Microsoft.Network/virtualNetworks/subnets")

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        wanted = {str(s.get("name", "")).lower() for s in ctx.props.get("subnets") or [] if isinstance(s, dict)}
        if ctx.existing is None:
            return
        for child in store.children(ctx.existing.id, self.child_list[1]):  # type: ignore[index]
            if child.name.lower() not in wanted:
                user = store.subnet_user(child.id)
                if user:
                    raise _in_use_error(child.name, user)


def _check_rule(rule_id: str, props: dict[str, Any]) -> None:
    for side in ("source", "destination"):
        one, many = props.get(f"{side}AddressPrefix"), props.get(f"{side}AddressPrefixes")
        if one and many:
            raise ArmError(
                400, NSG_BOTH_PREFIXES_CODE,
                f"Security rule {rule_id} has both {side.capitalize()}AddressPrefix and "
                f"{side.capitalize()}AddressPrefixes specified. Only one of them can be used.",
                details=[],
            )


def _normalise_rule(props: dict[str, Any]) -> None:
    """As the network RP stores a rule: a one-element list goes to the singular field; lists always present."""
    for side in ("source", "destination"):
        one, many = f"{side}AddressPrefix", f"{side}AddressPrefixes"
        if not props.get(one) and isinstance(props.get(many), list) and len(props[many]) == 1:
            props[one] = props[many][0]
            props[many] = []
        props.setdefault(many, [])
        if not props.get(one):
            props.pop(one, None)


class NetworkSecurityGroupKind(_NetworkKind):
    rtype = "Microsoft.Network/networkSecurityGroups"
    child_list = ("securityRules", "Microsoft.Network/networkSecurityGroups/securityRules")

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        for rule in ctx.props.get("securityRules") or []:
            if isinstance(rule, dict):
                _check_rule(f"{ctx.rid}/securityRules/{rule.get('name')}", rule.get("properties") or {})


class _NetworkChildKind(_NetworkKind):
    tracked = False
    listed_in_group = False

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        return {"properties": copy.deepcopy(ctx.props)}


class SubnetKind(_NetworkChildKind):
    rtype = "Microsoft.Network/virtualNetworks/subnets"

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        for endpoint in body["properties"].get("serviceEndpoints") or []:
            if isinstance(endpoint, dict):
                endpoint["provisioningState"] = "Succeeded"
        return body


class SecurityRuleKind(_NetworkChildKind):
    rtype = "Microsoft.Network/networkSecurityGroups/securityRules"

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        _check_rule(ctx.rid, ctx.props)

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        _normalise_rule(body["properties"])
        return body


class StorageAccountKind(Kind):
    rtype = "Microsoft.Storage/storageAccounts"
    put_style = LroStyle.LOCATION
    location_failure_quirk = True

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        name = ctx.path.name
        if not (3 <= len(name) <= 24 and name.isascii() and name.isalnum() and name == name.lower()):
            raise ArmError(
                400,
                "AccountNameInvalid",
                f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                "characters in length and use numbers and lower-case letters only.",
            )
        props, sku = ctx.props, str((ctx.body.get("sku") or {}).get("name", ""))
        if props.get("isNfsV3Enabled") and ("GRS" in sku.upper() or "GZRS" in sku.upper()):
            raise ArmError(400, "InvalidRequestPropertyValue", "The value 'True' is not allowed for property isNfsv3Enabled.")
        if props.get("isHnsEnabled") and sku.startswith("Premium_") and ctx.body.get("kind") == "StorageV2":
            raise ArmError(400, "InvalidRequestPropertyValue", "The value 'True' is not allowed for property "
                           "isHnsEnabled. For more information, see - https://aka.ms/storageaccounthns")
        acls = props.get("networkAcls")
        for rule in (acls.get("ipRules") if isinstance(acls, dict) else None) or []:
            if not _storage_ip_ok(str(rule.get("value", "")) if isinstance(rule, dict) else ""):
                raise ArmError(400, "InvalidValuesForRequestParameters", "Values for request parameters are invalid: "
                               "networkAcls.ipRule[*].value. For more information, see - https://aka.ms/storagenetworkruleset")

    def busy_ids(self, store: "ResourceStore", rid: str) -> set[str]:
        return {rid.lower()}

    def busy_error(self, store: "ResourceStore", op: Operation) -> ArmError:
        return ArmError(409, "StorageAccountOperationInProgress",
                        "An operation is currently performing on this storage account that requires exclusive access.")

    def planned_error(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any] | None:
        acls = ctx.props.get("networkAcls")
        rules = acls.get("virtualNetworkRules") if isinstance(acls, dict) else None
        for rule in rules or []:
            subnet_id = str(rule.get("id", "")) if isinstance(rule, dict) else ""
            subnet = store.get_resource(subnet_id)
            endpoints = (subnet.props.get("serviceEndpoints") if subnet else None) or []
            if not any(isinstance(e, dict) and str(e.get("service", "")).lower() == "microsoft.storage" for e in endpoints):
                vnet_id, _, subnet_name = subnet_id.rpartition("/subnets/")
                return {
                    "code": "NetworkAclsValidationFailure",
                    "message": "Validation of network acls failure: SubnetsHaveNoServiceEndpointsConfigured:Subnets "
                    f"{subnet_name} of virtual network {vnet_id} do not have ServiceEndpoints for Microsoft.Storage "
                    "resources configured. Add Microsoft.Storage to subnet's ServiceEndpoints collection before "
                    "trying to ACL Microsoft.Storage resources to these subnets..",
                }
        return None

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        name = ctx.path.name
        body["properties"]["primaryEndpoints"] = {
            svc: f"https://{name}.{svc}.core.windows.net/" for svc in ("blob", "dfs", "file", "queue", "table", "web")
        }
        return body

    def on_finished(self, store: "ResourceStore", res: Resource, op: Operation, error: dict[str, Any] | None) -> None:
        if error and op.kind == "create":
            store.remove_tree(res.id)  # a failed create leaves no account behind
            return
        super().on_finished(store, res, op, error)

    def action(self, store: "ResourceStore", res: Resource, name: str, body: Any) -> Reply:
        if name.lower() == "listkeys":
            digest = hashlib.sha512(res.id.lower().encode()).digest()
            keys = [
                {"keyName": f"key{i + 1}", "value": base64.b64encode(digest[i * 32 : (i + 1) * 32] * 2).decode(), "permissions": "FULL"}
                for i in range(2)
            ]
            return Reply(200, {"keys": keys})
        return super().action(store, res, name, body)


def _storage_ip_ok(value: str) -> bool:
    """Public IPv4 addresses or ranges with a prefix of at most /30."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    if net.version != 4 or ("/" in value and net.prefixlen > 30):
        return False
    return not any(net.overlaps(block) for block in STORAGE_REFUSED)


class BlobServiceKind(Kind):
    rtype = "Microsoft.Storage/storageAccounts/blobServices"
    tracked = False
    implicit = True
    listed_in_group = False
    has_provisioning_state = False


class BlobContainerKind(Kind):
    rtype = "Microsoft.Storage/storageAccounts/blobServices/containers"
    tracked = False
    listed_in_group = False
    has_provisioning_state = False

    def render(self, store: "ResourceStore", res: Resource) -> dict[str, Any]:
        out = super().render(store, res)
        out["etag"] = '"0x' + hashlib.md5(repr(res.body).encode()).hexdigest()[:15].upper() + '"'
        return out


class RoleAssignmentKind(Kind):
    rtype = "Microsoft.Authorization/roleAssignments"
    tracked = False
    listed_in_group = False
    has_provisioning_state = False

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        name, props = ctx.path.name, ctx.props
        if not is_guid(name):
            raise ArmError(
                400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."
            )
        principal = str(props.get("principalId", ""))
        if not is_guid(principal):
            raise ArmError(400, "InvalidPrincipalId", f"The Principal ID '{principal}' is not valid. Principal ID must be a GUID.")
        role = str(props.get("roleDefinitionId", ""))
        if "/providers/microsoft.authorization/roledefinitions/" not in role.lower() or not is_guid(role.rsplit("/", 1)[-1]):
            raise ArmError(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role}' does not exist.")
        scope = ctx.path.parent.id().lower()
        triple = (principal.lower(), role.rsplit("/", 1)[-1].lower(), scope)
        for other in store.all_of(self.rtype):
            if other.name.lower() == name.lower():
                if self.triple(other) != triple:
                    raise ArmError(
                        400,
                        "RoleAssignmentUpdateNotPermitted",
                        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                    )
            elif self.triple(other) == triple:
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        if store.strict_principals and not props.get("principalType") and principal.lower() not in store.principals:
            raise ArmError(
                400,
                "PrincipalNotFound",
                f"Principal {principal.replace('-', '')} does not exist in the directory {store.tenant_id}. Check that you "
                "have the correct principal ID. If you are creating this principal and then immediately assigning a "
                "role, this error might be related to a replication delay. In this case, set the role assignment "
                "principalType property to a value, such as ServicePrincipal, User, or Group.  See "
                "https://aka.ms/docs-principaltype",
            )

    @staticmethod
    def triple(res: Resource) -> tuple[str, str, str]:
        props = res.props
        return (
            str(props.get("principalId", "")).lower(),
            str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower(),
            str(props.get("scope", "")).lower(),
        )

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        scope_res = store.get_resource(ctx.path.parent.id()) if ctx.path.parent.segments else None
        if ctx.existing:
            scope = ctx.existing.props["scope"]
        elif scope_res is not None:
            scope = scope_res.id
        else:
            scope = store.canonical_id(ctx.path.parent)
        body["properties"]["scope"] = scope
        body["properties"].setdefault("createdOn", _now_iso())
        return body


class ManagedClusterKind(Kind):
    rtype = "Microsoft.ContainerService/managedClusters"
    put_style = LroStyle.AZURE_ASYNC
    delete_style = LroStyle.AZURE_ASYNC

    def validate(self, store: "ResourceStore", ctx: PutContext) -> None:
        props = ctx.props
        network = props.get("networkProfile")
        if isinstance(network, dict) and "dockerBridgeCidr" in network and ctx.api_version[:10] >= "2023-04-01":
            # Field removed from the API in 2023-04-01 (Azure/AKS#3534); the exact error code is unverified.
            raise ArmError(
                400,
                "InvalidParameter",
                "The property 'networkProfile.dockerBridgeCidr' is not supported in api-version "
                f"{ctx.api_version}: it was removed in 2023-04-01.",
                target="networkProfile.dockerBridgeCidr",
            )
        network = network if isinstance(network, dict) else {}
        if str(network.get("networkPlugin", "")).lower() == "kubenet" and str(network.get("networkPolicy", "")).lower() == "azure":
            raise ArmError(400, "NetworkPolicyAzureNotSupportedForKubenet",
                           "NetworkPolicy azure is not supported for network plugin kubenet",
                           target="networkProfile.networkPolicy")
        prefix = str(props.get("dnsPrefix", ctx.path.name))
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,52}[A-Za-z0-9])?", prefix):
            raise ArmError(400, AKS_DNS_PREFIX_CODE, f"The value of parameter dnsPrefix is invalid: '{prefix}'. It must "
                           "contain between 1 and 54 characters, only letters, numbers and hyphens, and start and end "
                           "with a letter or a number.", target="dnsPrefix")
        self._check_service_cidr(store, props, network)
        self._check_service_principal(store, ctx)
        linux = props.get("linuxProfile")
        keys = ((linux or {}).get("ssh") or {}).get("publicKeys") if isinstance(linux, dict) else None
        for key in keys or []:
            if not _is_rsa_public_key(str(key.get("keyData", "")) if isinstance(key, dict) else ""):
                raise ArmError(
                    400,
                    "InvalidParameter",
                    "The value of parameter linuxProfile.ssh.publicKeys.keyData is invalid. Please see "
                    "https://aka.ms/aks-naming-rules for more details.",
                    target="linuxProfile.ssh.publicKeys.keyData",
                )

    @staticmethod
    def _subnet_ids(props: dict[str, Any]) -> list[str]:
        return [str(p["vnetSubnetID"]) for p in props.get("agentPoolProfiles") or []
                if isinstance(p, dict) and p.get("vnetSubnetID")]

    def _check_service_cidr(self, store: "ResourceStore", props: dict[str, Any], network: dict[str, Any]) -> None:
        try:
            service = ipaddress.ip_network(str(network.get("serviceCidr") or "10.0.0.0/16"), strict=False)
        except ValueError:
            return
        for subnet_id in self._subnet_ids(props):
            vnet_id = subnet_id.rsplit("/subnets/", 1)[0]
            for subnet in store.children(vnet_id, SubnetKind.rtype):
                prefix = str(subnet.props.get("addressPrefix", ""))
                if prefix and ipaddress.ip_network(prefix, strict=False).overlaps(service):
                    raise ArmError(400, "ServiceCidrOverlapExistingSubnetsCidr",
                                   f"The specified service CIDR {service} is conflicted with an existing subnet CIDR "
                                   f"{prefix}", target="networkProfile.serviceCIDR")

    def _check_service_principal(self, store: "ResourceStore", ctx: PutContext) -> None:
        """AKS must see the principal and its secret; both replicate with a lag (``replication_lag`` PUTs)."""
        profile = ctx.props.get("servicePrincipalProfile")
        if not isinstance(profile, dict) or str(profile.get("clientId", "")).lower() == "msi":
            return
        client_id = str(profile.get("clientId", ""))
        principal = store.service_principals.get(client_id.lower())
        if principal is None or principal.lag > 0:
            if principal is not None:
                principal.lag -= 1
            raise ArmError(400, "ServicePrincipalNotFound",
                           f"Service principal clientID: {client_id} not found in Active Directory tenant "
                           f"{store.tenant_id}, Please see https://aka.ms/aks-sp-help for more details.")
        secret = profile.get("secret")
        if secret is None and ctx.existing is None:  # UNVERIFIED wording; a create needs the secret
            raise ArmError(400, "InvalidParameter", "Required parameter servicePrincipalProfile.secret is missing "
                           "(null).", target="servicePrincipalProfile.secret")
        if secret is not None:
            lag = principal.secrets.get(str(secret))
            if lag is None or lag > 0:
                if lag is not None:
                    principal.secrets[str(secret)] = lag - 1
                raise ArmError(400, "BadRequest", "The credentials in ServicePrincipalProfile were invalid. Please see "
                               "https://aka.ms/aks-sp-help for more details. (Details: AADSTS7000215: Invalid client "
                               f"secret provided. Ensure the secret being sent in the request is the client secret value, "
                               f"not the client secret ID, for a secret added to app '{client_id}'.)")

    def planned_error(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any] | None:
        """A service principal without join rights on the node subnet: the nodes cannot be created."""
        profile = ctx.props.get("servicePrincipalProfile")
        if not isinstance(profile, dict):
            return None
        client_id = str(profile.get("clientId", ""))
        principal = store.service_principals.get(client_id.lower())
        if principal is None:
            return None
        for subnet_id in self._subnet_ids(ctx.props):
            if not store.has_role(principal.object_id, subnet_id, JOIN_ROLES):
                rg, name = ctx.path.rg_name(), ctx.path.name
                vmss = (f"/subscriptions/{ctx.path.subscription}/resourceGroups/MC_{rg}_{name}_{ctx.body.get('location')}"
                        "/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-vmss")
                return {"code": "LinkedAuthorizationFailed", "httpStatus": 403,
                        "message": f"The client '{client_id}' with object id '{principal.object_id}' has permission to "
                        f"perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope '{vmss}'; however, "
                        "it does not have permission to perform action "
                        f"'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s) '{subnet_id}' "
                        "or the linked scope(s) are invalid."}
        return None

    def render(self, store: "ResourceStore", res: Resource) -> dict[str, Any]:
        out = super().render(store, res)
        profile = (out.get("properties") or {}).get("servicePrincipalProfile")
        if isinstance(profile, dict):
            profile.pop("secret", None)  # ARM never returns the client secret
        return out

    def busy_ids(self, store: "ResourceStore", rid: str) -> set[str]:
        return {rid.lower()}

    def busy_error(self, store: "ResourceStore", op: Operation) -> ArmError:
        verb = {"create": "Creating", "update": "Updating", "delete": "Deleting"}[op.kind]
        return ArmError(
            409,
            "OperationNotAllowed",
            f"Operation is not allowed: Another operation ({verb}) is in progress, please wait for it to finish "
            "before starting a new operation. See https://aka.ms/aks-pending-operation for more details",
        )

    def build(self, store: "ResourceStore", ctx: PutContext) -> dict[str, Any]:
        body = super().build(store, ctx)
        old = ctx.existing.body if ctx.existing else {}
        rg, name, location = ctx.path.rg_name() or "", ctx.path.name, body["location"]
        identity = body.get("identity")
        if isinstance(identity, dict) and str(identity.get("type", "")).lower() == "systemassigned":
            old_identity = old.get("identity") or {}
            identity["principalId"] = old_identity.get("principalId") or store.new_principal()
            identity["tenantId"] = store.tenant_id
        props = body["properties"]
        old_props = old.get("properties") or {}
        if isinstance(identity, dict):
            kubelet = ((old_props.get("identityProfile") or {}).get("kubeletidentity")) or {
                "resourceId": f"/subscriptions/{ctx.path.subscription}/resourcegroups/MC_{rg}_{name}_{location}"
                f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
                "clientId": str(uuid.uuid4()),
                "objectId": store.new_principal(),
            }
            props.setdefault("identityProfile", {})["kubeletidentity"] = kubelet
        props.setdefault("nodeResourceGroup", f"MC_{rg}_{name}_{location}")
        suffix = old_props.get("fqdn", "").split(".", 1)[0].rsplit("-", 1)[-1] or uuid.uuid4().hex[:8]
        props["fqdn"] = f"{props.get('dnsPrefix', name)}-{suffix}.hcp.{location}.azmk8s.io"
        props["powerState"] = {"code": "Running"}
        if "kubernetesVersion" in props:
            props["currentKubernetesVersion"] = props["kubernetesVersion"]
        for pool in props.get("agentPoolProfiles") or []:
            if isinstance(pool, dict):
                pool["powerState"] = {"code": "Running"}
        return body

    def on_finished(self, store: "ResourceStore", res: Resource, op: Operation, error: dict[str, Any] | None) -> None:
        super().on_finished(store, res, op, error)
        if op.kind != "delete" or error:
            for pool in res.props.get("agentPoolProfiles") or []:
                if isinstance(pool, dict):
                    pool["provisioningState"] = res.props["provisioningState"]

    def action(self, store: "ResourceStore", res: Resource, name: str, body: Any) -> Reply:
        if name.lower() in ("listclusterusercredential", "listclusteradmincredential"):
            text = store.kubeconfig or _default_kubeconfig(res)
            cred = "clusterUser" if name.lower() == "listclusterusercredential" else "clusterAdmin"
            return Reply(200, {"kubeconfigs": [{"name": cred, "value": base64.b64encode(text.encode()).decode()}]})
        return super().action(store, res, name, body)


def _is_rsa_public_key(key_data: str) -> bool:
    """True for an OpenSSH ``ssh-rsa`` key of at least 2048 bits (what Azure accepts)."""
    fields = key_data.strip().split()
    if len(fields) < 2 or fields[0] != "ssh-rsa":
        return False
    try:
        blob = base64.b64decode(fields[1], validate=True)
        parts, offset = [], 0
        for _ in range(3):  # string "ssh-rsa", mpint e, mpint n
            (length,) = struct.unpack(">I", blob[offset : offset + 4])
            parts.append(blob[offset + 4 : offset + 4 + length])
            offset += 4 + length
    except Exception:  # noqa: BLE001 - any decoding problem means "not a valid key"
        return False
    modulus = parts[2].lstrip(b"\x00")
    return parts[0] == b"ssh-rsa" and len(modulus) * 8 >= 2048


def _default_kubeconfig(res: Resource) -> str:
    fqdn = res.props.get("fqdn", "fake.hcp.azmk8s.io")
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- cluster:\n    server: https://{fqdn}:443\n  name: {res.name}\n"
        f"contexts:\n- context:\n    cluster: {res.name}\n    user: clusterUser_{res.name}\n  name: {res.name}\n"
        f"current-context: {res.name}\n"
        f"users:\n- name: clusterUser_{res.name}\n  user:\n    token: fake-token\n"
    )


KINDS: dict[str, Kind] = {
    k.rtype.lower(): k
    for k in (
        ResourceGroupKind(),
        RegistryKind(),
        VirtualNetworkKind(),
        SubnetKind(),
        NetworkSecurityGroupKind(),
        SecurityRuleKind(),
        StorageAccountKind(),
        BlobServiceKind(),
        BlobContainerKind(),
        RoleAssignmentKind(),
        ManagedClusterKind(),
    )
}


# ------------------------------------------------------------------------------------------------
# The store
# ------------------------------------------------------------------------------------------------
@dataclass
class _Provider:
    namespace: str
    state: str
    since: float = 0.0


@dataclass
class _ServicePrincipal:
    """What AKS can see of a directory service principal: ``lag`` more PUTs before it replicates; per
    secret, how many more PUTs before that secret replicates."""

    object_id: str
    lag: int
    secrets: dict[str, int] = field(default_factory=dict)


class ResourceStore:
    """All state of the fake ARM plus the ARM routing. Methods that touch state take ``lock``."""

    def __init__(
        self,
        *,
        subscription_id: str,
        tenant_id: str,
        lro_settings: LroSettings,
        faults: Faults,
        base_url: Callable[[], str],
        kubeconfig: str | None = None,
        unregistered_providers: Iterable[str] = (),
        registration_latency: float = 0.0,
        strict_principals: bool = True,
        replication_lag: int = 0,
    ) -> None:
        self.lock = threading.RLock()
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        self.faults = faults
        self.kubeconfig = kubeconfig
        self.strict_principals = strict_principals
        self.registration_latency = registration_latency
        #: Object ids the fake "directory" knows (lowercase); AKS identities are added as issued.
        self.principals: set[str] = set()
        #: Service principals by appId (lowercase), as learnt from the fake Graph (see :meth:`learn`).
        self.service_principals: dict[str, _ServicePrincipal] = {}
        self.replication_lag = replication_lag
        self.lro = LroEngine(lro_settings, base_url)
        self._items: dict[str, Resource] = {}
        self._providers = {ns.lower(): _Provider(ns, "NotRegistered") for ns in unregistered_providers}
        #: Handlers for endpoints outside the resource model (ACR Tasks: tasks.py), tried first; None = not theirs.
        self.extensions: list[Callable[[str, str, dict[str, str], Any], Reply | None]] = []

    # -- public helpers for tests ----------------------------------------------------------------
    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The resource as a GET would render it, or None. Does not count as an observation."""
        with self.lock:
            res = self.get_resource(resource_id)
            return None if res is None else self.render(res)

    def __contains__(self, resource_id: str) -> bool:
        return self.get(resource_id) is not None

    def ids(self, rtype: str | None = None) -> list[str]:
        with self.lock:
            return [r.id for r in self._items.values() if rtype is None or r.rtype.lower() == rtype.lower()]

    def seed(self, resource_id: str, body: dict[str, Any], api_version: str = "2024-01-01") -> dict[str, Any]:
        """Create a resource synchronously in state ``Succeeded`` (validation still applies)."""
        with self.lock:
            self._put(parse_path(resource_id), copy.deepcopy(body), api_version, force_sync=True)
            return self.get(resource_id)  # type: ignore[return-value]

    def role_assignments(self, *, principal_id: str | None = None, scope: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for res in self.all_of(RoleAssignmentKind.rtype):
                p, _, s = RoleAssignmentKind.triple(res)
                if (principal_id is None or p == principal_id.lower()) and (scope is None or s == scope.lower()):
                    out.append(self.render(res))
            return out

    def new_principal(self) -> str:
        principal = str(uuid.uuid4())
        self.principals.add(principal)
        return principal

    def learn(self, event: str, data: dict[str, Any]) -> None:
        """A directory change (from ``FakeGraph.directory.listeners``): AKS sees it after ``replication_lag``."""
        with self.lock:
            app_id = str(data.get("appId", "")).lower()
            if event == "servicePrincipal":
                self.service_principals[app_id] = _ServicePrincipal(str(data["id"]), self.replication_lag)
                self.principals.add(str(data["id"]).lower())
            elif event == "password" and app_id in self.service_principals:
                self.service_principals[app_id].secrets[str(data["secretText"])] = self.replication_lag
            elif event == "deleted":
                self.service_principals.pop(app_id, None)

    def has_role(self, principal_id: str, scope: str, role_ids: set[str]) -> bool:
        """Whether a role assignment at ``scope`` or above gives ``principal_id`` one of ``role_ids``."""
        scope = scope.lower()
        for res in self.all_of(RoleAssignmentKind.rtype):
            p, role, at = RoleAssignmentKind.triple(res)
            if p == principal_id.lower() and role in role_ids and (scope == at or scope.startswith(at + "/")):
                return True
        return False

    def hold(self, resource_id: str, state: str, *, polls: int = 2, seconds: float = 0.0) -> None:
        """Put an existing resource in a transitional ``state`` (AKS ``Upgrading``, storage ``ResolvingDNS``
        ...) as another tool's operation would: writes are refused as busy until it has been looked at
        ``polls`` times and ``seconds`` have passed, then it is ``Succeeded`` again."""
        with self.lock:
            res = self.get_resource(resource_id)
            assert res is not None, f"no resource {resource_id}"
            kind = KINDS[res.rtype.lower()]
            res.props["provisioningState"] = state
            op = self.lro.start(resource_id=res.id, rtype=kind.rtype, kind="update", style=LroStyle.AZURE_ASYNC,
                                subscription=self.subscription_id, location=str(res.body.get("location", "")),
                                api_version="", finish=lambda op, err: self._finished(op, err))
            op.latency, op.observations = seconds, 1 - polls

    # -- lookups -------------------------------------------------------------------------------
    def canonical_id(self, path: ArmPath) -> str:
        """Id for a new resource: known type names in their canonical casing, names as sent,
        and the stored casing of any existing ancestor (ARM answers with the first PUT's casing)."""

        def canon(rtype: str) -> str:
            kind = KINDS.get(rtype.lower())
            return kind.rtype if kind else rtype

        full = path.id(canon).replace(f"/subscriptions/{path.subscription}", f"/subscriptions/{self.subscription_id}", 1)
        if not path.segments:
            return full
        parent_full = self.canonical_id(path.parent)
        parent = self._items.get(parent_full.lower())
        return (parent.id if parent else parent_full) + full[len(parent_full) :]

    def get_resource(self, resource_id: str) -> Resource | None:
        key = resource_id.rstrip("/").lower()
        res = self._items.get(key)
        if res is None:
            try:
                path = parse_path(resource_id)
            except ArmError:
                return None
            kind = KINDS.get(path.rtype.lower()) if path.segments and path.dangling is None else None
            if kind is not None and kind.implicit and self.get_resource(path.parent.id()) is not None:
                return Resource(self.canonical_id(path), kind.rtype, {"properties": {}})
        return res

    def all_of(self, rtype: str) -> list[Resource]:
        return [r for r in self._items.values() if r.rtype.lower() == rtype.lower()]

    def children(self, parent_id: str, rtype: str) -> list[Resource]:
        prefix = parent_id.lower() + "/"
        found = [
            r
            for key, r in self._items.items()
            if r.rtype.lower() == rtype.lower() and key.startswith(prefix) and key[len(prefix) :].count("/") == 1
        ]
        return sorted(found, key=lambda r: r.created)

    def descendants(self, resource_id: str) -> list[Resource]:
        prefix = resource_id.lower() + "/"
        return [r for key, r in self._items.items() if key.startswith(prefix)]

    def render(self, res: Resource) -> dict[str, Any]:
        return KINDS[res.rtype.lower()].render(self, res)

    def subnet_user(self, subnet_id: str) -> str | None:
        """Id of an AKS node pool using this subnet (Azure refuses to delete such a subnet)."""
        for cluster in self.all_of(ManagedClusterKind.rtype):
            for pool in cluster.props.get("agentPoolProfiles") or []:
                if isinstance(pool, dict) and str(pool.get("vnetSubnetID", "")).lower() == subnet_id.lower():
                    return f"{cluster.id}/agentPools/{pool.get('name', 'nodepool1')}"
        return None

    def remove_tree(self, resource_id: str) -> None:
        key = resource_id.lower()
        for k in [k for k in self._items if k == key or k.startswith(key + "/")]:
            del self._items[k]

    # -- routing -------------------------------------------------------------------------------
    def sync_latency(self, method: str, path: str) -> float:
        """Seconds ARM takes to answer a PUT of a synchronous type (resource group, role assignment): the
        server waits them out before taking the lock, so concurrent requests still overlap."""
        if method != "PUT":
            return 0.0
        try:
            arm_path = parse_path(path)
        except ArmError:
            return 0.0
        kind = KINDS.get(arm_path.rtype.lower()) if arm_path.segments and arm_path.dangling is None else None
        if kind is None or kind.put_style is not LroStyle.SYNC:
            return 0.0
        return self.lro.settings.latency_for(kind.rtype, "create")

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        """Answer one authenticated request that carries an api-version. Caller holds ``lock``."""
        try:
            self.lro.settle()
            return self._route(method, path, query, body)
        except ArmError as err:
            return err.reply()

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        api_version = query.get("api-version", "")
        low = [unquote(p).lower() for p in path.split("/") if p]
        raw = [unquote(p) for p in path.split("/") if p]
        if len(low) >= 2 and low[0] == "subscriptions" and low[1] != self.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{raw[1]}' could not be found.")
        for extension in self.extensions:
            answer = extension(method, path, query, body)
            if answer is not None:
                return answer
        rest = low[2:]
        if rest[:1] == ["providers"] and len(rest) == 6 and rest[2] == "locations" and rest[4] in ("operations", "operationresults"):
            return self._operation(rest[5], rest[4] == "operations")
        if rest[:1] == ["providers"] and len(rest) == 2 and method == "GET":
            return Reply(200, self._provider_body(raw[3]))
        if rest[:1] == ["providers"] and len(rest) == 3 and rest[2] == "register" and method == "POST":
            return self._register(raw[3])
        if rest[:1] == ["resourcegroups"] and len(rest) == 3 and rest[2] == "resources" and method == "GET":
            return self._list_group(raw[3])
        arm_path = parse_path(path)
        if arm_path.dangling is not None:
            if method == "GET":
                return self._list(arm_path, query)
            if method == "POST" and arm_path.segments:
                return self._action(arm_path, body)
            raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed on '{path}'.")
        if method in ("GET", "HEAD"):
            res = self._require(arm_path)
            self.lro.observe_resource(res.id)
            return Reply(204) if method == "HEAD" else Reply(200, self.render(res))
        if method == "PUT":
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
            return self._put(arm_path, body, api_version)
        if method == "PATCH":
            return self._patch(arm_path, body if isinstance(body, dict) else {})
        if method == "DELETE":
            return self._delete(arm_path, api_version)
        raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed on '{path}'.")

    # -- providers -----------------------------------------------------------------------------
    def _provider(self, namespace: str) -> _Provider:
        prov = self._providers.get(namespace.lower())
        if prov is None:
            return _Provider(namespace, "Registered")
        if prov.state == "Registering" and time.monotonic() - prov.since >= self.registration_latency:
            prov.state = "Registered"
        return prov

    def _provider_body(self, namespace: str) -> dict[str, Any]:
        prov = self._provider(namespace)
        return {
            "id": f"/subscriptions/{self.subscription_id}/providers/{prov.namespace}",
            "namespace": prov.namespace,
            "registrationState": prov.state,
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [],
        }

    def _register(self, namespace: str) -> Reply:
        prov = self._providers.setdefault(namespace.lower(), _Provider(namespace, "NotRegistered"))
        body = self._provider_body(namespace)
        if prov.state == "NotRegistered":
            # Azure answers "Registering"; a later GET shows "Registered" after registration_latency.
            prov.state, prov.since = "Registering", time.monotonic()
            body["registrationState"] = "Registering"
        return Reply(200, body)

    def set_provider_state(self, namespace: str, state: str) -> None:
        with self.lock:
            self._providers[namespace.lower()] = _Provider(namespace, state, time.monotonic())

    def _check_registered(self, kind: Kind) -> None:
        namespace = kind.rtype.split("/", 1)[0]
        prov = self._provider(namespace)
        if prov.state != "Registered":
            message = (
                f"The subscription is not registered to use namespace '{prov.namespace}'. "
                "See https://aka.ms/rps-not-found for how to register subscriptions."
            )
            raise ArmError(
                409,
                "MissingSubscriptionRegistration",
                message,
                details=[{"code": "MissingSubscriptionRegistration", "target": prov.namespace, "message": message}],
            )

    # -- operations ----------------------------------------------------------------------------
    def _operation(self, op_id: str, is_status: bool) -> Reply:
        op = self.lro.get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        if is_status:
            return self.lro.status_reply(op)
        return self.lro.result_reply(op, lambda: self.get(op.resource_id))

    # -- reads ---------------------------------------------------------------------------------
    def _kind(self, path: ArmPath, rtype: str | None = None) -> Kind:
        rtype = rtype or path.rtype
        kind = KINDS.get(rtype.lower())
        if kind is None:
            ns = rtype.split("/", 1)[0]
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The resource type '{rtype.split('/', 1)[-1]}' could not be found in the namespace '{ns}' "
                "(not modelled by the fake ARM).",
            )
        return kind

    def _require_group(self, path: ArmPath) -> None:
        rg = path.rg_name()
        if rg is not None and f"/subscriptions/{path.subscription}/resourcegroups/{rg}".lower() not in self._items:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    def _not_found(self, path: ArmPath) -> ArmError:
        self._require_group(path)
        rg = path.rg_name()
        segs = path.segments[1:] if rg is not None else path.segments
        chain = segs[0].rtype if segs else path.rtype
        chain += "".join(f"/{s.name}" if i == 0 else f"/{s.rtype.rsplit('/', 1)[-1]}/{s.name}" for i, s in enumerate(segs))
        where = f" under resource group '{rg}'" if rg else ""
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{chain}'{where} was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        )

    def _require(self, path: ArmPath) -> Resource:
        self._kind(path)
        if path.rtype.lower() == RG_TYPE.lower() and len(path.segments) == 1:
            self._require_group(path)
        res = self.get_resource(path.id())
        if res is None:
            raise self._not_found(path)
        return res

    def _list_group(self, rg: str) -> Reply:
        path = ArmPath(self.subscription_id, (Segment(RG_TYPE, rg, False),))
        self._require_group(path)
        prefix = f"/subscriptions/{self.subscription_id}/resourcegroups/{rg}/providers/".lower()
        value = []
        for res in sorted(self._items.values(), key=lambda r: r.created):
            kind = KINDS[res.rtype.lower()]
            if kind.listed_in_group and res.id.lower().startswith(prefix) and res.id.count("/") == 8:
                item = {"id": res.id, "name": res.name, "type": kind.rtype}
                for key in ("location", "tags", "sku", "kind", "identity"):
                    if key in res.body:
                        item[key] = copy.deepcopy(res.body[key])
                value.append(item)
        return Reply(200, {"value": value})

    def _list(self, path: ArmPath, query: dict[str, str]) -> Reply:
        rtype = path.dangling or ""
        self._kind(path, rtype)
        if path.segments:
            parent = self.get_resource(path.id())
            if parent is None:
                raise self._not_found(path)
        self._require_group(path)
        if rtype.lower() == RoleAssignmentKind.rtype.lower():
            return Reply(200, {"value": self._list_role_assignments(path, query.get("$filter", ""))})
        parent_prefix = path.id().lower() + "/"
        found = [
            r
            for r in sorted(self._items.values(), key=lambda r: r.created)
            if r.rtype.lower() == rtype.lower() and r.id.lower().startswith(parent_prefix)
        ]
        return Reply(200, {"value": [self.render(r) for r in found]})

    def _list_role_assignments(self, scope_path: ArmPath, flt: str) -> list[dict[str, Any]]:
        """At, above and below the scope; ``atScope()`` drops those below; ``principalId eq 'x'``."""
        scope = scope_path.id().lower()
        flt_low = flt.lower()
        principal = None
        if "principalid eq '" in flt_low:
            principal = flt_low.split("principalid eq '", 1)[1].split("'", 1)[0]
        out = []
        for res in self.all_of(RoleAssignmentKind.rtype):
            p, _, s = RoleAssignmentKind.triple(res)
            above = scope == s or scope.startswith(s + "/")
            below = s.startswith(scope + "/")
            if (above or (below and "atscope()" not in flt_low)) and (principal is None or p == principal):
                out.append(self.render(res))
        return out

    def _action(self, path: ArmPath, body: Any) -> Reply:
        kind = self._kind(path)
        action = (path.dangling or "").rsplit("/", 1)[-1]
        res = self._require(path)
        if action.lower() not in {"listkeys", "listcredentials", "listclusterusercredential", "listclusteradmincredential"}:
            self._check_registered(kind)
        return kind.action(self, res, action, body)

    # -- writes --------------------------------------------------------------------------------
    def _require_parent(self, path: ArmPath) -> None:
        if len(path.segments) == 1 and path.rtype.lower() == RG_TYPE.lower():
            return  # a resource group's parent is the subscription
        self._require_group(path)
        parent = path.parent
        while parent.segments and parent.rtype.lower() != RG_TYPE.lower():
            kind = KINDS.get(parent.rtype.lower())
            if kind is not None and kind.implicit:
                parent = parent.parent
                continue
            if self.get_resource(parent.id()) is None:
                raise self._not_found(parent)
            return

    def _check_busy(self, kind: Kind, rid: str) -> None:
        ids = kind.busy_ids(self, rid)
        if ids:
            for op in self.lro.pending_on(ids):
                raise kind.busy_error(self, op)

    def _put(self, path: ArmPath, body: dict[str, Any], api_version: str, force_sync: bool = False) -> Reply:
        if not path.segments:
            raise ArmError(400, "InvalidRequestUri", "A PUT needs a resource path.")
        kind = self._kind(path)
        self._check_registered(kind)
        self._require_parent(path)
        existing = self._items.get(path.id().lower())
        rid = existing.id if existing else self.canonical_id(path)
        if kind.tracked and not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        self._check_busy(kind, rid)
        ctx = PutContext(path, rid, existing, body, api_version)
        kind.validate(self, ctx)
        op_kind = "update" if existing else "create"
        style = kind.put_style
        if force_sync or (style is LroStyle.LOCATION and existing is not None):
            style = LroStyle.SYNC  # storage: an update of an existing account answers 200 at once
        planned = self.faults.take_lro_failure(rid, op_kind) if style is not LroStyle.SYNC else None
        planned = planned or kind.planned_error(self, ctx)
        if planned and style is LroStyle.SYNC:
            raise ArmError(400, planned["code"], planned["message"])
        stored = kind.build(self, ctx)
        if kind.has_provisioning_state:
            stored["properties"]["provisioningState"] = (
                "Succeeded" if style is LroStyle.SYNC else ("Updating" if existing else kind.creating_state)
            )
        res = Resource(rid, kind.rtype, stored, existing.created if existing else time.monotonic())
        self._items[rid.lower()] = res
        self._sync_children(kind, res, ctx, stored["properties"].get("provisioningState"))
        if style is LroStyle.SYNC:
            return Reply(200 if existing and kind.rtype != RoleAssignmentKind.rtype else 201, self.render(res))
        op = self.lro.start(
            resource_id=rid,
            rtype=kind.rtype,
            kind=op_kind,
            style=style,
            subscription=path.subscription,
            location=stored.get("location", ""),
            api_version=api_version,
            finish=lambda op, err: self._finished(op, err),
            planned_error=planned,
            location_failure_quirk=kind.location_failure_quirk,
        )
        headers = self.lro.initial_headers(op)
        if style is LroStyle.LOCATION:
            return Reply(202, None, headers)
        return Reply(200 if existing else 201, self.render(res), headers)

    def _sync_children(self, kind: Kind, res: Resource, ctx: PutContext, state: str | None) -> None:
        """A VNet/NSG PUT is authoritative: inline children are upserted, missing ones deleted."""
        if not kind.child_list:
            return
        prop, child_type = kind.child_list
        wanted: dict[str, dict[str, Any]] = {}
        for entry in ctx.props.get(prop) or []:
            if isinstance(entry, dict) and entry.get("name"):
                wanted[str(entry["name"]).lower()] = entry
        for child in self.children(res.id, child_type):
            if child.name.lower() not in wanted:
                self.remove_tree(child.id)
        child_kind = KINDS[child_type.lower()]
        leaf = child_type.rsplit("/", 1)[-1]
        for entry in wanted.values():
            child_path = parse_path(f"{res.id}/{leaf}/{entry['name']}")
            old = self._items.get(child_path.id().lower())
            cctx = PutContext(child_path, old.id if old else self.canonical_id(child_path), old, entry, ctx.api_version)
            stored = child_kind.build(self, cctx)
            stored["properties"]["provisioningState"] = state
            self._items[cctx.rid.lower()] = Resource(cctx.rid, child_kind.rtype, stored, old.created if old else time.monotonic())

    def _finished(self, op: Operation, error: dict[str, Any] | None) -> None:
        res = self._items.get(op.resource_id.lower())
        if res is None:
            return  # removed meanwhile (e.g. its resource group was deleted)
        KINDS[res.rtype.lower()].on_finished(self, res, op, error)

    def _patch(self, path: ArmPath, body: dict[str, Any]) -> Reply:
        """PATCH is modelled as a synchronous merge (tags replaced, properties deep-merged)."""
        kind = self._kind(path)
        self._check_registered(kind)
        res = self._require(path)
        if "tags" in body:
            res.body["tags"] = copy.deepcopy(body["tags"] or {})
        if isinstance(body.get("properties"), dict):
            _deep_merge(res.props, body["properties"])
        for key in ("sku", "identity"):
            if isinstance(body.get(key), dict):
                _deep_merge(res.body.setdefault(key, {}), body[key])
        return Reply(200, self.render(res))

    def _delete(self, path: ArmPath, api_version: str) -> Reply:
        kind = self._kind(path)
        self._check_registered(kind)
        self._require_group(path)  # also answers a missing group's own DELETE with 404
        res = self._items.get(path.id().lower())
        if res is None:
            return Reply(204)
        if kind.rtype == SubnetKind.rtype:
            user = self.subnet_user(res.id)
            if user:
                raise _in_use_error(res.name, user)
        if kind.delete_style is LroStyle.SYNC:
            rendered = self.render(res)
            self.remove_tree(res.id)
            return Reply(200, rendered if kind.rtype == RoleAssignmentKind.rtype else None)
        if kind.rtype != ManagedClusterKind.rtype:  # AKS accepts a delete during another operation
            self._check_busy(kind, res.id)
        if kind.has_provisioning_state:
            res.props["provisioningState"] = "Deleting"
        op = self.lro.start(
            resource_id=res.id,
            rtype=kind.rtype,
            kind="delete",
            style=kind.delete_style,
            subscription=path.subscription,
            location=res.body.get("location", ""),
            api_version=api_version,
            finish=lambda op, err: self._finished(op, err),
            planned_error=self.faults.take_lro_failure(res.id, "delete"),
        )
        return Reply(202, None, self.lro.initial_headers(op))
