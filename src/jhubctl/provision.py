"""`provision` and `destroy`: the seed's Azure section as a resumable, previewable step graph.

Preflight catches what would otherwise fail half-way: names, address ranges and source IPs are
validated, the ARM endpoint must answer with this credential, all before any write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Loaded
from .errors import JhubctlError, UsageError
from .state import Journal

PROVISION_SECTIONS = ("name", "azure", "network", "storage", "registry", "aks")
#: Journal entries that destroy clears (the step names of azure/steps.py).
PROVISION_STEPS = ("providers", "resource-group", "registry", "network", "storage", "identity", "ssh-key", "aks",
                   "role-assignments", "kubeconfig", "csi-driver")


def require(loaded: Loaded) -> None:
    """Values that have no safe default for a real subscription."""
    config = loaded.config
    if config.target != "azure":
        raise UsageError(
            f"provision builds Azure infrastructure, but the config says target: {config.target}",
            hint=f"set target: azure in {loaded.path or 'jhubctl.yaml'}",
        )
    missing = [
        key for key, value in (
            ("azure.subscription_id", config.azure.subscription_id),
            ("storage.account_name", config.storage.account_name),
            ("registry.name", config.registry.name),
        ) if not value
    ]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} must be set for provision",
            hint=f"add them to {loaded.path or 'jhubctl.yaml'} (see config.example.yaml)",
        )
    if config.aks.ssh_public_key_path is not None:
        from .sshkey import read_public_key

        read_public_key(config.aks.ssh_public_key_path)  # not RSA: bad input, before any request


def source_ips(loaded: Loaded) -> list[str]:
    """The operator's CIDRs: explicit, or `auto` = one call to the IP echo service (read-only)."""
    network = loaded.config.network
    if network.allowed_source_ips != "auto":
        return ["*" if ip.strip() in ("*", "0.0.0.0/0") else str(ipaddress.ip_network(ip, strict=False))
                for ip in network.allowed_source_ips]
    import httpx

    try:
        answer = httpx.get(network.ip_echo_url, timeout=10).text.strip()
        ip = ipaddress.ip_address(answer)
    except (httpx.HTTPError, ValueError) as exc:
        raise UsageError(
            f"network.allowed_source_ips is 'auto' but {network.ip_echo_url} gave no IP address ({exc})",
            hint="list your public CIDRs in network.allowed_source_ips, or set network.ip_echo_url",
        ) from None
    return [f"{ip}/{ip.max_prefixlen}"]


def build_env(loaded: Loaded) -> Any:
    from .azure.arm import Arm
    from .azure.credentials import credential
    from .azure.desired import Ids
    from .azure.steps import Env

    require(loaded)
    config = loaded.config
    sources = source_ips(loaded)
    assert config.azure.subscription_id is not None
    arm = Arm(config.azure.arm_endpoint, config.azure.subscription_id, credential())
    preflight(arm, config.azure.subscription_id)
    graph = None
    if config.aks.identity == "service-principal":
        from .azure.graph import Graph

        graph = Graph(config.azure.graph_endpoint, arm.credential)
    return Env(config, arm, Ids(config, config.azure.subscription_id), loaded.state_dir, sources, kube_client, graph)


def kube_client(path: Path, context: str) -> Any:
    from .kube.client import KubeClient

    return KubeClient.from_kubeconfig(path, context=context)


def preflight(arm: Any, subscription_id: str) -> None:
    """One read that proves the endpoint, the credential and the subscription, before any write."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    try:
        arm.resources.providers.get("Microsoft.Resources")
    except ClientAuthenticationError as exc:
        from .azure.errors import from_sdk

        raise JhubctlError(from_sdk(exc, "Azure refused the credential").message,
                           hint="az login, or export JHUBCTL_AZURE_ACCESS_TOKEN") from None
    except ServiceRequestError as exc:
        raise JhubctlError(f"cannot reach Azure Resource Manager at {arm.endpoint}: {exc.message}",
                           hint="check azure.arm_endpoint / JHUBCTL_ARM_ENDPOINT and REQUESTS_CA_BUNDLE") from None
    except HttpResponseError as exc:
        from .azure.errors import from_sdk

        raise from_sdk(exc, f"subscription {subscription_id}") from None


def describe(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, JhubctlError):
        return exc.message, exc.hint
    return f"{type(exc).__name__}: {exc}", "a bug or an unexpected answer: run again with --debug"


def runner(loaded: Loaded, env: Any, view: Any) -> Any:
    from .azure.steps import all_steps
    from .steps.runner import StepRunner

    return StepRunner(all_steps(env), Journal(loaded.state_dir),
                      config_hash=loaded.config.digest(*PROVISION_SECTIONS), view=view, describe=describe)


@dataclass
class Outcome:
    plan: list[Any]
    results: list[Any] | None  # None: nothing applied (dry run, or the plan itself failed)

    @property
    def ok(self) -> bool:
        steps = self.results if self.results is not None else self.plan
        return all(r.status in ("planned", "succeeded") for r in steps)


def run(loaded: Loaded, view: Callable[[list[str], str], Any], *, dry_run: bool, only: list[str] | None,
        approve: Callable[[list[Any]], None]) -> Outcome:
    """Plan every selected step from real GETs; unless dry-run, let `approve` see the plan, then apply.

    `view(names, phase)` gives the live view (a context manager) of phase "plan" or "apply";
    `approve` raises to refuse.
    """
    env = build_env(loaded)
    steps = runner(loaded, env, None)
    names = [s.name for s in steps.select(only)]
    with view(names, "plan") as live:
        steps.view = live
        plan = steps.plan(only)
    if dry_run or any(r.status == "failed" for r in plan):
        return Outcome(plan, None)
    if any(c.action != "unchanged" for r in plan for c in r.changes):
        approve(plan)
    with view(names, "apply") as live:
        steps.view = live
        return Outcome(plan, steps.apply(only))


def resume_command(loaded: Loaded) -> str:
    """The command that picks up where this run stopped, from any folder (re-running is safe)."""
    import shlex

    from .config import STATE_DIR_NAME

    parts = ["jhubctl"]
    if loaded.path is not None:
        parts += ["--config", str(loaded.path)]
    default_state = (loaded.path.parent if loaded.path else Path.cwd()).absolute() / STATE_DIR_NAME
    if loaded.state_dir != default_state:
        parts += ["--state-dir", str(loaded.state_dir)]
    return shlex.join([*parts, "provision"])


def merge_kubeconfig(loaded: Loaded, target: Path | None = None) -> Path:
    from .kubeconfig import merge_into

    path = target or Path.home() / ".kube" / "config"
    merge_into(path, loaded.state_dir / "kubeconfig")
    return path


#: Deletion order: the cluster first (it holds the subnet and the role assignments' principals).
DELETE_ORDER = (
    "microsoft.containerservice/managedclusters",
    "microsoft.storage/storageaccounts",
    "microsoft.containerregistry/registries",
    "microsoft.network/virtualnetworks",
    "microsoft.network/networksecuritygroups",
)


def destroy_plan(loaded: Loaded, arm: Any) -> list[str]:
    """Ids to delete: the resource group if we created it and it holds only ours, else our tagged resources."""
    config = loaded.config
    group = arm.get_group(config.azure.resource_group)
    if group is None:
        return []
    resources = arm.group_resources(config.azure.resource_group)
    ours = [r for r in resources if (r.get("tags") or {}).get("jhubctl-env") == config.name]
    group_ours = (group.get("tags") or {}).get("jhubctl-env") == config.name
    if group_ours and len(ours) == len(resources):
        return [group["id"]]

    def rank(resource: dict[str, Any]) -> int:
        kind = str(resource.get("type", "")).lower()
        return DELETE_ORDER.index(kind) if kind in DELETE_ORDER else len(DELETE_ORDER)

    return [r["id"] for r in sorted(ours, key=rank)]


def created_application(loaded: Loaded) -> str | None:
    """The object id of the service-principal application provision created (it carries no ARM tag)."""
    step = Journal(loaded.state_dir).get("identity")
    if step is None or step.outputs.get("mode") != "service-principal":
        return None
    return step.outputs.get("app_object_id")


def destroy(loaded: Loaded, arm: Any, ids: list[str], on_deleted: Any = None) -> None:
    group_id = f"/subscriptions/{arm.subscription_id}/resourceGroups/{loaded.config.azure.resource_group}"
    for rid in ids:
        if rid.lower() == group_id.lower():
            arm.delete_group(loaded.config.azure.resource_group)
        else:
            arm.delete(rid)
        if on_deleted is not None:
            on_deleted(rid)
    if app := created_application(loaded):
        from .azure.graph import Graph

        graph = Graph(loaded.config.azure.graph_endpoint, arm.credential)
        try:
            graph.delete_application(app)  # deletes its service principal and secrets with it
        finally:
            graph.close()
        if on_deleted is not None:
            on_deleted(f"application {app}")
    journal = Journal(loaded.state_dir)
    for name in PROVISION_STEPS:
        journal.forget(name)
    (loaded.state_dir / "kubeconfig").unlink(missing_ok=True)


def destroy_env(loaded: Loaded) -> Any:
    """The ARM adapter for destroy: needs only the subscription, not the names provision requires."""
    from .azure.arm import Arm
    from .azure.credentials import credential

    subscription = loaded.config.azure.subscription_id
    if not subscription:
        raise UsageError("azure.subscription_id must be set for destroy",
                         hint=f"add it to {loaded.path or 'jhubctl.yaml'}")
    arm = Arm(loaded.config.azure.arm_endpoint, subscription, credential())
    preflight(arm, subscription)
    return arm
