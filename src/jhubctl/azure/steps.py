"""The provisioning steps of the seed's section 5.2, each check → ensure → verify over the ARM adapter.

Every id is derived from the config, so a dry run can plan a resource whose parent does not exist yet.
Outputs go to the journal (ids, names, endpoints; never a secret).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..steps.diff import differences, merge
from ..steps.model import Change, Step, StepContext
from . import desired
from .arm import PROVIDERS, Arm
from .errors import AzureError

KUBECONFIG_FILE = "kubeconfig"
#: Lists jhubctl owns outright: an operator IP removed from the config must lose access everywhere.
EXACT = ("properties.networkAcls.ipRules",)


@dataclass
class Env:
    """What steps share: config, the ARM adapter, derived ids, the state dir and the operator's source IPs."""

    config: Config
    arm: Arm
    ids: desired.Ids
    state_dir: Path
    sources: list[str]
    kube_factory: Callable[[Path, str], Any]  # (kubeconfig path, context) -> jhubctl.kube.client.KubeClient
    graph: Any = None  # azure.graph.Graph in service-principal mode

    @property
    def service_principal(self) -> bool:
        return self.config.aks.identity == "service-principal"


def _read(arm: Arm, ctx: StepContext, rid: str) -> dict[str, Any] | None:
    """The resource as this step's plan saw it (one GET per resource per run), else a fresh GET."""
    if rid not in ctx.seen:
        ctx.seen[rid] = arm.get(rid)
    return ctx.seen[rid]


def _plan(
    arm: Arm, ctx: StepContext, rid: str, want: dict[str, Any], compare: dict[str, Any] | None = None
) -> tuple[Change, dict[str, Any] | None]:
    actual = _read(arm, ctx, rid)
    if actual is None:
        return Change("create", rid), None
    fields = differences(compare if compare is not None else want, actual, exact=EXACT)
    if str((actual.get("properties") or {}).get("provisioningState", "")).lower() == "failed":
        fields.append("properties.provisioningState")  # a failed resource is PUT again, which retries it
    return Change("update" if fields else "unchanged", rid, tuple(fields)), actual


def _ensure(arm: Arm, rid: str, want: dict[str, Any], change: Change, actual: dict[str, Any] | None) -> dict[str, Any]:
    if change.action == "unchanged" and actual is not None:
        return arm.verify(rid, actual)
    return arm.put(rid, merge(actual, want, exact=EXACT) if actual else want)


def providers_step(env: Env) -> Step:
    def plan(ctx: StepContext) -> list[Change]:
        missing = env.arm.unregistered(PROVIDERS)
        return [Change("create" if ns in missing else "unchanged", f"provider {ns}") for ns in PROVIDERS]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        todo = [c.resource.split(" ", 1)[1] for c in changes if c.action == "create"]
        if todo:
            env.arm.register(todo)
        return {"registered": list(PROVIDERS)}

    return Step("providers", "register resource providers", (), plan, apply)


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

    return Step("resource-group", "az group create", (), plan, apply)


def registry_step(env: Env) -> Step:
    rid, want = env.ids.registry, desired.registry(env.config)

    def plan(ctx: StepContext) -> list[Change]:
        return [_plan(env.arm, ctx, rid, want)[0]]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        result = _ensure(env.arm, rid, want, changes[0], _read(env.arm, ctx, rid))
        return {"id": result["id"], "login_server": result.get("properties", {}).get("loginServer")}

    return Step("registry", "az acr create", ("resource-group", "providers"), plan, apply)


def network_step(env: Env) -> Step:
    ids, config = env.ids, env.config
    nsg_want = desired.nsg(config, env.sources)
    vnet_want = desired.vnet(config, ids.nsg)
    subnet_want = desired.subnet(config, ids.nsg)
    subnet_body = {"properties": subnet_want["properties"]}

    def plan(ctx: StepContext) -> list[Change]:
        nsg_change = _plan(env.arm, ctx, ids.nsg, nsg_want)[0]
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
        _ensure(env.arm, ids.nsg, nsg_want, nsg_change, _read(env.arm, ctx, ids.nsg))
        vnet = _read(env.arm, ctx, ids.vnet)
        if vnet_change.action == "create":
            env.arm.put(ids.vnet, vnet_want)  # subnet inline: one request, no window without it
        elif vnet_change.action == "update":
            # A VNet PUT is authoritative over subnets: send every existing one back, ours merged in.
            env.arm.put(ids.vnet, merge(vnet, vnet_want))
        else:
            env.arm.verify(ids.vnet, vnet or {})
            if subnet_change.action != "unchanged":
                current = env.arm.get(ids.subnet)
                env.arm.put(ids.subnet, merge(current, subnet_body) if current else subnet_body)
        return {"vnet_id": ids.vnet, "subnet_id": ids.subnet, "nsg_id": ids.nsg, "source_ips": env.sources}

    return Step("network", "az network vnet create + nsg rules", ("resource-group", "providers"), plan, apply)


def storage_step(env: Env) -> Step:
    ids, config = env.ids, env.config
    want = desired.storage(config, ids.subnet, env.sources)
    fixed = ("properties.isHnsEnabled", "properties.isNfsV3Enabled")

    def plan(ctx: StepContext) -> list[Change]:
        account, actual = _plan(env.arm, ctx, ids.storage, want)
        frozen = [f for f in account.fields if f in fixed]
        if frozen:
            raise AzureError(
                f"storage account {config.storage.account_name} exists without {', '.join(frozen)}, which "
                "cannot be turned on later",
                code="StorageAccountIncompatible", hint="choose another storage.account_name",
            )
        container = _plan(env.arm, ctx, ids.container, desired.container())[0] if actual else Change("create", ids.container)
        return [account, container]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        account_change, container_change = changes
        account = _ensure(env.arm, ids.storage, want, account_change, _read(env.arm, ctx, ids.storage))
        container_actual = _read(env.arm, ctx, ids.container) if container_change.action != "create" else None
        _ensure(env.arm, ids.container, desired.container(), container_change, container_actual)
        endpoints = (account.get("properties") or {}).get("primaryEndpoints") or {}
        return {"id": account["id"], "account_name": config.storage.account_name,
                "container": config.storage.container, "blob_endpoint": endpoints.get("blob")}

    return Step("storage", "az storage account create + container", ("network",), plan, apply)


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

    return Step("ssh-key", "ssh-keygen (RSA, private key 0600)", (), plan, apply)


def identity_step(env: Env) -> Step:
    """managed: nothing to create (the cluster brings its identities). service-principal: the seed's
    `az ad sp create-for-rbac`, as an application plus its service principal, found again by name."""
    name = env.config.aks.service_principal_name

    def plan(ctx: StepContext) -> list[Change]:
        if not env.service_principal:
            return [Change("unchanged", "system-assigned identity (comes with the cluster)")]
        app = env.graph.find_application(name)
        if app is None:
            return [Change("create", f"application {name}"), Change("create", f"service principal of {name}")]
        sp = env.graph.find_service_principal(app["appId"])
        return [Change("unchanged", f"application {name}"),
                Change("unchanged" if sp else "create", f"service principal of {name}")]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        if not env.service_principal:
            return {"mode": "managed"}
        app = env.graph.find_application(name) or env.graph.create_application(name)
        sp = env.graph.find_service_principal(app["appId"])
        if sp is None:
            sp = env.graph.create_service_principal(app["appId"])
        return {"mode": "service-principal", "app_id": app["appId"], "app_object_id": app["id"],
                "principal_id": sp["id"]}

    return Step("identity", "az ad sp create-for-rbac (service-principal mode only)", (), plan, apply)


def _sp_secret(ctx: StepContext, env: Env) -> str:
    """The client secret, held in memory only; a new one is added when this process has none."""
    secret = ctx.transient.get("sp_secret")
    if secret is None:
        secret = env.graph.add_password(ctx.input("identity", "app_object_id"), f"jhubctl {env.config.name}")
        ctx.transient["sp_secret"] = secret
    return str(secret)


def _public_key(ctx: StepContext, env: Env) -> str:
    from .. import sshkey

    path = ctx.input("ssh-key", "public_key_path")
    if path:
        return sshkey.read_public_key(Path(path))
    return "ssh-rsa (generated by the ssh-key step)"


def aks_step(env: Env) -> Step:
    ids = env.ids

    def want(ctx: StepContext, secret: str | None) -> dict[str, Any]:
        client_id = ctx.input("identity", "app_id") or "(created by the identity step)"
        principal = (client_id, secret or "") if env.service_principal else None
        return desired.cluster(env.config, ids.subnet, _public_key(ctx, env), principal)

    def plan(ctx: StepContext) -> list[Change]:
        body = want(ctx, None)
        return [_plan(env.arm, ctx, ids.cluster, body, desired.cluster_comparable(body))[0]]

    def apply(ctx: StepContext, changes: list[Change]) -> dict[str, Any]:
        needs_secret = env.service_principal and changes[0].action != "unchanged"
        body = want(ctx, _sp_secret(ctx, env) if needs_secret else None)
        result = _ensure(env.arm, ids.cluster, body, changes[0], _read(env.arm, ctx, ids.cluster))
        props = result.get("properties") or {}
        kubelet = ((props.get("identityProfile") or {}).get("kubeletidentity")) or {}
        return {
            "id": result["id"],
            "fqdn": props.get("fqdn"),
            "principal_id": (result.get("identity") or {}).get("principalId"),
            "kubelet_object_id": kubelet.get("objectId"),
            "node_resource_group": props.get("nodeResourceGroup"),
        }

    return Step("aks", "az aks create", ("network", "ssh-key", "providers", "identity"), plan, apply)


def role_assignments_step(env: Env) -> Step:
    ids = env.ids

    def wanted(ctx: StepContext) -> list[tuple[str, str, str | None, str]]:
        if env.service_principal:  # the seed's three grants, to the one service principal
            sp = ctx.input("identity", "principal_id")
            return [
                (ids.vnet, "Contributor", sp, "service principal"),
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
                    env.arm.put(rid, desired.role_assignment(ids, role, principal))
                except AzureError as exc:
                    if exc.code != "RoleAssignmentExists":  # the same grant under another name: done
                        raise
            done[role] = rid
        return {"assignments": done}

    needs = ("identity", "registry", "network", "storage") if env.service_principal else ("aks", "registry", "network")
    return Step("role-assignments", "az role assignment create", needs, plan, apply)


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

    return Step("kubeconfig", "az aks get-credentials (into the state dir)", ("aks",), plan, apply)


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

    return Step("csi-driver", "kubectl: recreate blob.csi.azure.com with fsGroupPolicy File", ("kubeconfig",),
                plan, apply)


def all_steps(env: Env) -> list[Step]:
    return [
        providers_step(env), group_step(env), registry_step(env), network_step(env), storage_step(env),
        identity_step(env), ssh_key_step(env), aks_step(env), role_assignments_step(env), kubeconfig_step(env), csi_driver_step(env),
    ]
