"""The provisioning steps of the seed's section 5.2, each check → ensure → verify over the ARM adapter.

Every id is derived from the config, so a dry run can plan a resource whose parent does not exist yet.
Outputs go to the journal (ids, names, endpoints; never a secret).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..steps.diff import differences, merge
from ..steps.model import Change, Step, StepContext
from . import desired
from .arm import PROVIDERS, Arm, Report, busy
from .errors import AzureError

if TYPE_CHECKING:
    from ..kube.client import KubeClient
    from .graph import Graph

KUBECONFIG_FILE = "kubeconfig"
#: Lists jhubctl owns outright: an operator IP removed from the config must lose access everywhere.
EXACT = ("properties.networkAcls.ipRules",)
#: NSG rules jhubctl owns are sent whole, never merged with what Azure holds (one source field only).
OWNED = ("properties.securityRules",)
#: AKS refuses a new service principal or secret until Microsoft Entra ID has replicated it (up to about four
#: minutes): the create is retried this long, first after REPLICATION_DELAY seconds, then doubling up to 30.
REPLICATION_TIMEOUT = 600.0
REPLICATION_DELAY = 5.0


def needs(service_principal: bool) -> dict[str, tuple[str, ...]]:
    """The step graph. With a service principal, the cluster needs the principal's rights on the VNet
    before it is created (else LinkedAuthorizationFailed); managed identities exist only after it."""
    return {
        "providers": (),
        "resource-group": (),
        "registry": ("resource-group", "providers"),
        "network": ("resource-group", "providers"),
        "storage": ("network",),
        "identity": (),
        "ssh-key": (),
        "aks": ("network", "ssh-key", "providers", "identity", *(("role-assignments",) if service_principal else ())),
        "role-assignments": ("identity", "registry", "network", "storage") if service_principal
        else ("aks", "registry", "network"),
        "kubeconfig": ("aks",),
        "csi-driver": ("kubeconfig",),
    }


@dataclass
class Env:
    """What steps share: config, the adapters, derived ids, the state dir and the operator's source IPs."""

    config: Config
    arm: Arm
    ids: desired.Ids
    state_dir: Path
    sources: list[str]
    kube_factory: Callable[[Path, str], KubeClient]
    graph: Graph | None = None  # service-principal mode only

    @property
    def service_principal(self) -> bool:
        return self.config.aks.identity == "service-principal"

    def directory(self) -> Graph:
        if self.graph is None:
            raise AzureError("Microsoft Graph is needed in service-principal mode and was not set up")
        return self.graph

    def step(self, name: str, description: str, plan: Callable[[StepContext], list[Change]],
             apply: Callable[[StepContext, list[Change]], dict[str, Any]]) -> Step:
        return Step(name, description, needs(self.service_principal)[name], plan, apply)


def _read(arm: Arm, ctx: StepContext, rid: str) -> dict[str, Any] | None:
    """The resource as this step's plan saw it (one GET per resource per run), else a fresh GET."""
    if rid not in ctx.seen:
        ctx.seen[rid] = arm.get(rid)
    return ctx.seen[rid]


def _plan(
    arm: Arm, ctx: StepContext, rid: str, want: dict[str, Any], compare: dict[str, Any] | None = None,
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[Change, dict[str, Any] | None]:
    actual = _read(arm, ctx, rid)
    if actual is None:
        return Change("create", rid), None
    have = normalise(actual) if normalise else actual
    fields = differences(compare if compare is not None else want, have, exact=EXACT)
    if str((actual.get("properties") or {}).get("provisioningState", "")).lower() == "failed":
        fields.append("properties.provisioningState")  # a failed resource is PUT again, which retries it
    return Change("update" if fields else "unchanged", rid, tuple(fields)), actual


def _ensure(arm: Arm, rid: str, want: dict[str, Any], change: Change, actual: dict[str, Any] | None,
            report: Report) -> dict[str, Any]:
    if actual is not None and busy(actual):  # another tool's (or an interrupted run's) operation: wait for it
        actual = arm.settle(rid, report)
    if change.action == "unchanged" and actual is not None:
        return arm.verify(rid, actual, report)
    return arm.put(rid, merge(actual, want, exact=EXACT, owned=OWNED) if actual else want, report)


def providers_step(env: Env) -> Step:
    def plan(ctx: StepContext) -> list[Change]:
        missing = env.arm.unregistered(PROVIDERS)
        return [Change("create" if ns in missing else "unchanged", f"provider {ns}") for ns in PROVIDERS]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        todo = [c.resource.split(" ", 1)[1] for c in changes if c.action == "create"]
        if todo:
            env.arm.register(todo)
        return {"registered": list(PROVIDERS)}

    return env.step("providers", "register resource providers", plan, apply)


def group_step(env: Env) -> Step:
    name = env.config.azure.resource_group

    def plan(ctx: StepContext) -> list[Change]:
        return [Change("create" if env.arm.get_group(name) is None else "unchanged", env.ids.group)]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        actual = env.arm.get_group(name) if changes[0].action == "unchanged" else None
        if actual is None:
            actual = env.arm.put_group(name, desired.group(env.config))
        owned = (actual.get("tags") or {}).get("jhubctl-env") == env.config.name
        return {"id": actual.get("id", env.ids.group), "name": name, "owned": owned}

    return env.step("resource-group", "az group create", plan, apply)


def registry_step(env: Env) -> Step:
    rid, want = env.ids.registry, desired.registry(env.config)

    def plan(ctx: StepContext) -> list[Change]:
        return [_plan(env.arm, ctx, rid, want)[0]]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        result = _ensure(env.arm, rid, want, changes[0], _read(env.arm, ctx, rid), ctx.report)
        return {"id": result["id"], "login_server": result.get("properties", {}).get("loginServer")}

    return env.step("registry", "az acr create", plan, apply)


def network_step(env: Env) -> Step:
    ids, config = env.ids, env.config
    nsg_want = desired.nsg(config, env.sources)
    vnet_want = desired.vnet(config, ids.nsg)
    subnet_want = desired.subnet(config, ids.nsg)
    subnet_body = {"properties": subnet_want["properties"]}

    def plan(ctx: StepContext) -> list[Change]:
        nsg_change = _plan(env.arm, ctx, ids.nsg, nsg_want, desired.nsg_comparable(nsg_want),
                           desired.nsg_comparable)[0]
        vnet_actual = _read(env.arm, ctx, ids.vnet)
        if vnet_actual is None:
            return [nsg_change, Change("create", ids.vnet), Change("create", ids.subnet)]
        space = differences({"properties": {"addressSpace": vnet_want["properties"]["addressSpace"]}}, vnet_actual)
        subnets = {s.get("name", "").lower(): s for s in (vnet_actual.get("properties") or {}).get("subnets") or []}
        current = subnets.get(config.network.subnet_name.lower())
        if current is None:
            subnet_change = Change("create", ids.subnet)
        else:
            fields = differences(subnet_body, current)
            subnet_change = Change("update" if fields else "unchanged", ids.subnet, tuple(fields))
        vnet_change = Change("update" if space else "unchanged", ids.vnet, tuple(space))
        return [nsg_change, vnet_change, subnet_change]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        nsg_change, vnet_change, subnet_change = changes
        # The subnet references the NSG: it goes first.
        _ensure(env.arm, ids.nsg, nsg_want, nsg_change, _read(env.arm, ctx, ids.nsg), ctx.report)
        vnet = _read(env.arm, ctx, ids.vnet)
        if vnet is not None and busy(vnet):
            vnet = env.arm.settle(ids.vnet, ctx.report)
        if vnet_change.action == "create":
            env.arm.put(ids.vnet, vnet_want, ctx.report)  # subnet inline: one request, no window without it
        elif vnet_change.action == "update":
            # A VNet PUT is authoritative over subnets: send every existing one back, ours merged in.
            env.arm.put(ids.vnet, merge(vnet, vnet_want), ctx.report)
        else:
            env.arm.verify(ids.vnet, vnet or {}, ctx.report)
            if subnet_change.action != "unchanged":
                current = env.arm.get(ids.subnet)
                env.arm.put(ids.subnet, merge(current, subnet_body) if current else subnet_body, ctx.report)
        return {"vnet_id": ids.vnet, "subnet_id": ids.subnet, "nsg_id": ids.nsg, "source_ips": env.sources}

    return env.step("network", "az network vnet create + nsg rules", plan, apply)


def storage_step(env: Env) -> Step:
    ids, config = env.ids, env.config
    want = desired.storage(config, ids.subnet, env.sources)
    fixed = ("kind", "properties.isHnsEnabled", "properties.isNfsV3Enabled")

    def plan(ctx: StepContext) -> list[Change]:
        account, actual = _plan(env.arm, ctx, ids.storage, want)
        frozen = [f for f in account.fields if f in fixed]
        if frozen:
            raise AzureError(
                f"storage account {config.storage.account_name} differs in {', '.join(frozen)}, which cannot "
                "change after creation (storage.sku decides the kind)",
                code="StorageAccountIncompatible", hint="choose another storage.account_name",
            )
        container = _plan(env.arm, ctx, ids.container, desired.container())[0] if actual else Change("create", ids.container)
        return [account, container]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        account_change, container_change = changes
        account = _ensure(env.arm, ids.storage, want, account_change, _read(env.arm, ctx, ids.storage), ctx.report)
        container_actual = _read(env.arm, ctx, ids.container) if container_change.action != "create" else None
        _ensure(env.arm, ids.container, desired.container(), container_change, container_actual, ctx.report)
        endpoints = (account.get("properties") or {}).get("primaryEndpoints") or {}
        return {"id": account["id"], "account_name": config.storage.account_name,
                "container": config.storage.container, "blob_endpoint": endpoints.get("blob")}

    return env.step("storage", "az storage account create + container", plan, apply)


def ssh_key_step(env: Env) -> Step:
    from .. import sshkey

    configured = env.config.aks.ssh_public_key_path
    generated = env.state_dir / "ssh" / "id_rsa.pub"

    def plan(ctx: StepContext) -> list[Change]:
        if configured is not None:  # checked to be RSA by provision's preflight
            return [Change("unchanged", str(configured))]
        return [Change("unchanged" if generated.exists() else "create", str(generated))]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        path = configured if configured is not None else sshkey.generate(generated.parent)
        sshkey.read_public_key(path)
        return {"public_key_path": str(path)}

    return env.step("ssh-key", "ssh-keygen (RSA, private key 0600)", plan, apply)


def identity_step(env: Env) -> Step:
    """managed: nothing to create (the cluster brings its identities). service-principal: the seed's
    `az ad sp create-for-rbac`, as an application plus its service principal, found again by name."""
    name = env.config.aks.service_principal_name

    def plan(ctx: StepContext) -> list[Change]:
        if not env.service_principal:
            return [Change("unchanged", "system-assigned identity (comes with the cluster)")]
        graph = env.directory()
        app = graph.find_application(name)
        if app is None:
            return [Change("create", f"application {name}"), Change("create", f"service principal of {name}")]
        sp = graph.find_service_principal(app["appId"])
        return [Change("unchanged", f"application {name}"),
                Change("unchanged" if sp else "create", f"service principal of {name}")]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        if not env.service_principal:
            return {"mode": "managed"}
        graph = env.directory()
        app = graph.find_application(name) or graph.create_application(name)
        sp = graph.find_service_principal(app["appId"]) or graph.create_service_principal(app["appId"])
        return {"mode": "service-principal", "app_id": app["appId"], "app_object_id": app["id"],
                "principal_id": sp["id"]}

    return env.step("identity", "az ad sp create-for-rbac (service-principal mode only)", plan, apply)


def _sp_secret(ctx: StepContext, env: Env) -> str:
    """The cluster's client secret, held in memory only: added when a create needs one, once per run."""
    secret = ctx.transient.get("sp_secret")
    if secret is None:
        secret = env.directory().add_password(ctx.input("identity", "app_object_id"),
                                              f"jhubctl {env.config.name}: AKS cluster credential")
        ctx.transient["sp_secret"] = secret
    return str(secret)


def _replicating(error: AzureError) -> bool:
    """AKS does not see a new service principal, or its new secret, yet."""
    return error.code == "ServicePrincipalNotFound" or (
        error.code == "BadRequest" and "ServicePrincipalProfile were invalid" in error.message)


def _put_cluster(env: Env, ctx: StepContext, body: dict[str, Any], change: Change,
                 actual: dict[str, Any] | None) -> dict[str, Any]:
    delay, waited = REPLICATION_DELAY, 0.0
    while True:
        try:
            return _ensure(env.arm, env.ids.cluster, body, change, actual, ctx.report)
        except AzureError as exc:
            if not env.service_principal or not _replicating(exc):
                raise
            if waited + delay > REPLICATION_TIMEOUT:
                raise AzureError(f"{exc.message} (still after {waited:.0f} s)", code=exc.code,
                                 hint="Microsoft Entra ID has not replicated the service principal yet: run again "
                                      "later") from None
            ctx.report(f"waiting {delay:.0f} s: AKS does not see the new service principal yet ({exc.code}, "
                       f"{waited:.0f} s so far)")
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 30.0)


def _public_key(ctx: StepContext, env: Env) -> str:
    from .. import sshkey

    path = ctx.input("ssh-key", "public_key_path")
    if path:
        return sshkey.read_public_key(Path(path))
    return "ssh-rsa (generated by the ssh-key step)"


def aks_step(env: Env) -> Step:
    ids = env.ids

    def client_id(ctx: StepContext) -> str:
        return ctx.input("identity", "app_id") or "(created by the identity step)"

    def want(ctx: StepContext, secret: str | None) -> dict[str, Any]:
        principal = (client_id(ctx), secret) if env.service_principal else None
        return desired.cluster(env.config, ids.subnet, _public_key(ctx, env), principal)

    def needs_secret(ctx: StepContext, change: Change, actual: dict[str, Any] | None) -> bool:
        """Only a create (or a retried failed create, or a new principal) takes a secret: no new
        password on the application for every update or re-run."""
        if not env.service_principal or change.action == "unchanged":
            return False
        if actual is None:
            return True
        props = actual.get("properties") or {}
        current = str((props.get("servicePrincipalProfile") or {}).get("clientId", ""))
        return current.lower() != client_id(ctx).lower() or str(props.get("provisioningState")).lower() == "failed"

    def plan(ctx: StepContext) -> list[Change]:
        body = want(ctx, None)
        return [_plan(env.arm, ctx, ids.cluster, body, desired.cluster_comparable(body))[0]]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        actual = _read(env.arm, ctx, ids.cluster)
        body = want(ctx, _sp_secret(ctx, env) if needs_secret(ctx, changes[0], actual) else None)
        result = _put_cluster(env, ctx, body, changes[0], actual)
        props = result.get("properties") or {}
        kubelet = ((props.get("identityProfile") or {}).get("kubeletidentity")) or {}
        return {
            "id": result["id"],
            "fqdn": props.get("fqdn"),
            "principal_id": (result.get("identity") or {}).get("principalId"),
            "kubelet_object_id": kubelet.get("objectId"),
            "node_resource_group": props.get("nodeResourceGroup"),
        }

    return env.step("aks", "az aks create", plan, apply)


def role_assignments_step(env: Env) -> Step:
    ids = env.ids

    def wanted(ctx: StepContext) -> list[tuple[str, str, str | None, str]]:
        if env.service_principal:  # the seed's three grants (Contributor narrowed to the network role)
            sp = ctx.input("identity", "principal_id")
            return [
                (ids.vnet, "Network Contributor", sp, "service principal"),
                (ids.registry, "AcrPull", sp, "service principal"),
                (ids.storage, "Storage Blob Data Contributor", sp, "service principal"),
            ]
        return [
            (ids.subnet, "Network Contributor", ctx.input("aks", "principal_id"), "cluster identity"),
            (ids.registry, "AcrPull", ctx.input("aks", "kubelet_object_id"), "kubelet identity"),
        ]

    def plan(ctx: StepContext) -> list[Change]:
        changes = []
        for scope, role, principal, who in wanted(ctx):
            if principal is None:
                changes.append(Change("create", f"{role} for the {who} on {desired.short_id(scope)} (once it exists)"))
                continue
            rid = ids.role_assignment(scope, role, principal)
            changes.append(_plan(env.arm, ctx, rid, desired.role_assignment(ids, role, principal))[0])
        return changes

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        done = {}
        for (scope, role, principal, who), change in zip(wanted(ctx), changes, strict=True):
            if principal is None:
                raise AzureError(f"no principal id for the {who}: no step recorded one", code="NoPrincipal")
            rid = ids.role_assignment(scope, role, principal)
            if change.action != "unchanged":
                try:
                    env.arm.put(rid, desired.role_assignment(ids, role, principal), ctx.report)
                except AzureError as exc:
                    if exc.code != "RoleAssignmentExists":  # the same grant under another name: done
                        raise
            done[role] = rid
        return {"assignments": done}

    return env.step("role-assignments", "az role assignment create", plan, apply)


def kubeconfig_step(env: Env) -> Step:
    path = env.state_dir / KUBECONFIG_FILE
    cluster = env.config.aks.cluster_name

    def plan(ctx: StepContext) -> list[Change]:
        return [Change("unchanged" if path.exists() else "create", str(path))]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        if changes[0].action == "create" or not path.exists():
            from ..kubeconfig import write_kubeconfig

            write_kubeconfig(path, env.arm.cluster_user_kubeconfig(env.config.azure.resource_group, cluster), cluster)
        return {"path": str(path), "context": cluster}

    return env.step("kubeconfig", "az aks get-credentials (into the state dir)", plan, apply)


def csi_driver_step(env: Env) -> Step:
    path = env.state_dir / KUBECONFIG_FILE
    cluster = env.config.aks.cluster_name

    def plan(ctx: StepContext) -> list[Change]:
        if not path.exists():
            return [Change("update", "csidriver blob.csi.azure.com (after kubeconfig)", ("spec.fsGroupPolicy",))]
        from ..kube.csidriver import ensure_blob_fsgroup_policy

        result = ensure_blob_fsgroup_policy(env.kube_factory(path, cluster), env.state_dir / "backups", dry_run=True)
        if result.action == "unchanged":
            return [Change("unchanged", "csidriver blob.csi.azure.com")]
        return [Change("update", "csidriver blob.csi.azure.com", ("spec.fsGroupPolicy",))]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        from ..kube.csidriver import ensure_blob_fsgroup_policy

        result = ensure_blob_fsgroup_policy(env.kube_factory(path, cluster), env.state_dir / "backups")
        backup = str(result.backup_path) if result.backup_path else ctx.input("csi-driver", "backup")
        return {"action": result.action, "fs_group_policy": result.after_policy, "backup": backup}

    return env.step("csi-driver", "kubectl: recreate blob.csi.azure.com with fsGroupPolicy File", plan, apply)


def all_steps(env: Env) -> list[Step]:
    return [
        providers_step(env), group_step(env), registry_step(env), network_step(env), storage_step(env),
        identity_step(env), ssh_key_step(env), aks_step(env), role_assignments_step(env), kubeconfig_step(env), csi_driver_step(env),
    ]
