"""`provision` and `destroy`: the seed's Azure section as a resumable, previewable step graph.

The workflow lives here; the CLI only confirms and renders. Preflight catches what would otherwise fail
half-way: names, address ranges and source IPs are validated (config), the credentials are found per
audience, and the ARM endpoint must answer with them, all before any write. Heavy modules (the Azure SDK,
pydantic models) are imported inside functions: the CLI imports this module for `--only` completion.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import JhubctlError, UsageError

if TYPE_CHECKING:
    from ..config import Loaded
    from ..kube.client import KubeClient
    from ..steps.runner import StepResult, StepRunner, View
    from .arm import Arm
    from .graph import Graph
    from .steps import Env

#: The steps of provision, in declaration order. Other commands read the journal under these names.
STEPS = ("providers", "resource-group", "registry", "network", "storage", "identity", "ssh-key", "aks",
         "role-assignments", "kubeconfig", "csi-driver")
#: Config sections whose change makes the journal's earlier outputs stale.
SECTIONS = ("name", "azure", "network", "storage", "registry", "aks")


def check_steps(names: Sequence[str]) -> list[str]:
    """`--only` values: a usage error naming the known steps, before any credential or request."""
    unknown = sorted(set(names) - set(STEPS))
    if unknown:
        raise UsageError(f"unknown step {', '.join(unknown)}", hint=f"steps are: {', '.join(STEPS)}")
    return list(names)


@dataclass(frozen=True)
class Plan:
    """Every selected step's changes, from real GETs; nothing written."""

    steps: list[StepResult]

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.steps)

    @property
    def writes(self) -> bool:
        return any(c.action != "unchanged" for r in self.steps for c in r.changes)


@dataclass(frozen=True)
class Result:
    """What applying did, step by step."""

    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return all(r.status == "succeeded" for r in self.steps)


def _require(loaded: Loaded) -> str:
    """Values that have no safe default for a real subscription; returns the subscription id."""
    config = loaded.config
    if config.target != "azure":
        raise UsageError(
            f"provision builds Azure infrastructure, but the config says target: {config.target}",
            hint=f"set target: azure in {loaded.path or 'jhubctl.yaml'}",
        )
    missing = [key for key, value in (
        ("azure.subscription_id", config.azure.subscription_id),
        ("storage.account_name", config.storage.account_name),
        ("registry.name", config.registry.name),
    ) if not value]
    if missing:
        raise UsageError(f"{', '.join(missing)} must be set for provision",
                         hint=f"add them to {loaded.path or 'jhubctl.yaml'} (see config.example.yaml)")
    if config.aks.ssh_public_key_path is not None:
        from ..sshkey import read_public_key

        read_public_key(config.aks.ssh_public_key_path)  # not RSA: bad input, before any request
    assert config.azure.subscription_id is not None
    return config.azure.subscription_id


def echo_ip(loaded: Loaded) -> str:
    """This machine's public IPv4 address as network.ip_echo_url sees it (one call; a UsageError says why not)."""
    import ipaddress

    import httpx

    network = loaded.config.network
    hint = "list your public IPv4 CIDRs in network.allowed_source_ips, or set network.ip_echo_url"
    try:  # bound to an IPv4 source address: the storage firewall takes IPv4 rules only
        with httpx.Client(transport=httpx.HTTPTransport(local_address="0.0.0.0"), timeout=10) as http:
            answer = http.get(network.ip_echo_url).text.strip()
        ip = ipaddress.ip_address(answer)
    except (httpx.HTTPError, ValueError) as exc:
        raise UsageError(f"{network.ip_echo_url} (network.ip_echo_url) gave no IP address ({exc})", hint=hint) from None
    return str(ip)


def source_ips(loaded: Loaded) -> list[str]:
    """The operator's CIDRs: explicit (checked by the config), or `auto` = one IPv4 call to the echo service."""
    import ipaddress

    from ..config import public_ipv4_problem

    network = loaded.config.network
    if network.allowed_source_ips != "auto":
        return [network.normalised(ip) for ip in network.allowed_source_ips]
    try:
        ip = echo_ip(loaded)
    except UsageError as exc:
        raise UsageError(f"network.allowed_source_ips is 'auto' but {exc.message}", hint=exc.hint) from None
    problem = public_ipv4_problem(ipaddress.ip_network(ip))
    if problem:
        raise UsageError(f"network.allowed_source_ips is 'auto' but {network.ip_echo_url} answered {ip}, {problem}",
                         hint="list your public IPv4 CIDRs in network.allowed_source_ips, or set network.ip_echo_url")
    return [f"{ip}/32"]


def _kube_client(path: Path, context: str) -> KubeClient:
    from ..kube.client import KubeClient

    return KubeClient.from_kubeconfig(path, context=context)


def preflight(arm: Arm, subscription_id: str) -> None:
    """One read that proves the endpoint, the credential and the subscription, before any write."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    from .credentials import LOGIN_HINT
    from .errors import from_sdk

    try:
        arm.resources.providers.get("Microsoft.Resources")
    except ClientAuthenticationError as exc:
        if exc.response is None:  # the credential found no token: nothing was sent
            raise JhubctlError("no Azure credential found", hint=LOGIN_HINT) from None
        raise JhubctlError(from_sdk(exc, "Azure refused the credential").message, hint=LOGIN_HINT) from None
    except ServiceRequestError as exc:
        raise JhubctlError(f"cannot reach Azure Resource Manager at {arm.endpoint}: {exc.message}",
                           hint="check azure.arm_endpoint / JHUBCTL_ARM_ENDPOINT and REQUESTS_CA_BUNDLE") from None
    except HttpResponseError as exc:
        raise from_sdk(exc, f"subscription {subscription_id}") from None


def _arm(loaded: Loaded, subscription_id: str) -> Arm:
    from .arm import Arm
    from .credentials import arm_credential

    azure = loaded.config.azure
    arm = Arm(azure.arm_endpoint, subscription_id, arm_credential(azure.arm_endpoint, azure.tenant_id, loaded.environ))
    preflight(arm, subscription_id)
    return arm


def _graph(loaded: Loaded) -> Graph:
    from .credentials import graph_credential
    from .graph import Graph

    azure = loaded.config.azure
    return Graph(azure.graph_endpoint, graph_credential(azure.graph_endpoint, azure.tenant_id, loaded.environ))


def _describe(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, JhubctlError):
        return exc.message, exc.hint
    return f"{type(exc).__name__}: {exc}", "a bug or an unexpected answer: run again with --debug"


class Provisioning:
    """One run of provision: the checked inputs, the adapters and the step runner built from them."""

    def __init__(self, env: Env, runner: StepRunner, only: list[str]):
        self.env = env
        self.runner = runner
        self.only = only or None

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.runner.select(self.only)]

    def plan(self, view: View) -> Plan:
        return Plan(self.runner.plan(view, self.only))

    def apply(self, view: View) -> Result:
        return Result(self.runner.apply(view, self.only))


@contextlib.contextmanager
def provisioning(loaded: Loaded, only: Sequence[str] = (), *, dry_run: bool = False) -> Iterator[Provisioning]:
    """Check everything that can be checked before a write, then hold the state lock (unless dry run; the
    lock is re-entrant, so `up`, which holds it already, can run this too)."""
    from ..state import Journal, StateLock
    from ..steps.runner import StepRunner
    from .desired import Ids
    from .steps import Env, all_steps

    names = check_steps(only)
    subscription = _require(loaded)
    config = loaded.config
    with contextlib.nullcontext() if dry_run else StateLock(loaded.state_dir, "provision"):
        sources = source_ips(loaded)
        graph = _graph(loaded) if config.aks.identity == "service-principal" else None  # refuses a missing token
        try:
            arm = _arm(loaded, subscription)
            env = Env(config, arm, Ids(config, subscription), loaded.state_dir, sources, _kube_client, graph)
            runner = StepRunner(all_steps(env), Journal(loaded.state_dir), config_hash=config.digest(*SECTIONS),
                                describe=_describe)
            yield Provisioning(env, runner, names)
        finally:
            if graph is not None:
                graph.close()


def resume_command(loaded: Loaded) -> str:
    """The command that picks up where this run stopped, from any folder (re-running is safe)."""
    import shlex

    from ..config import STATE_DIR_NAME

    parts = ["jhubctl"]
    if loaded.path is not None:
        parts += ["--config", str(loaded.path)]
    default_state = (loaded.path.parent if loaded.path else Path.cwd()).absolute() / STATE_DIR_NAME
    if loaded.state_dir != default_state:
        parts += ["--state-dir", str(loaded.state_dir)]
    return shlex.join([*parts, "provision"])


def merge_kubeconfig(loaded: Loaded, target: Path | None = None) -> Path:
    from ..kubeconfig import merge_into

    path = target or Path.home() / ".kube" / "config"
    merge_into(path, loaded.state_dir / "kubeconfig")
    return path


# -- destroy ----------------------------------------------------------------------------------------------

#: Deletion order: the cluster first (it holds the subnet and the role assignments' principals).
DELETE_ORDER = (
    "microsoft.containerservice/managedclusters",
    "microsoft.storage/storageaccounts",
    "microsoft.containerregistry/registries",
    "microsoft.network/virtualnetworks",
    "microsoft.network/networksecuritygroups",
)


@dataclass(frozen=True)
class Teardown:
    """What destroy will delete: ARM ids (or the whole group), and the application provision created."""

    resources: list[str]
    application: str | None

    @property
    def empty(self) -> bool:
        return not self.resources and self.application is None


def _created_application(loaded: Loaded) -> str | None:
    """The object id of the service-principal application provision created (it carries no ARM tag)."""
    from ..state import Journal

    step = Journal(loaded.state_dir).get("identity")
    if step is None or step.outputs.get("mode") != "service-principal":
        return None
    return step.outputs.get("app_object_id")


class Destruction:
    """One run of destroy, holding the state lock."""

    def __init__(self, loaded: Loaded, arm: Arm, graph: Graph | None):
        self.loaded = loaded
        self.arm = arm
        self.graph = graph

    def plan(self) -> Teardown:
        """The resource group if we created it and it holds only ours, else our tagged resources."""
        config = self.loaded.config
        application = _created_application(self.loaded)
        group = self.arm.get_group(config.azure.resource_group)
        if group is None:
            return Teardown([], application)
        resources = self.arm.group_resources(config.azure.resource_group)
        ours = [r for r in resources if (r.get("tags") or {}).get("jhubctl-env") == config.name]
        if (group.get("tags") or {}).get("jhubctl-env") == config.name and len(ours) == len(resources):
            return Teardown([group["id"]], application)

        def rank(resource: dict[str, object]) -> int:
            kind = str(resource.get("type", "")).lower()
            return DELETE_ORDER.index(kind) if kind in DELETE_ORDER else len(DELETE_ORDER)

        return Teardown([str(r["id"]) for r in sorted(ours, key=rank)], application)

    def apply(self, teardown: Teardown, on_deleted: Callable[[str], None]) -> list[str]:
        from ..state import Journal

        group = self.loaded.config.azure.resource_group
        group_id = f"/subscriptions/{self.arm.subscription_id}/resourceGroups/{group}"
        deleted: list[str] = []
        for rid in teardown.resources:
            if rid.lower() == group_id.lower():
                self.arm.delete_group(group)
            else:
                self.arm.delete(rid)
            deleted.append(rid)
            on_deleted(rid)
        if teardown.application is not None and self.graph is not None:
            self.graph.delete_application(teardown.application)  # its service principal and secrets go with it
            on_deleted(f"application {teardown.application}")
        journal = Journal(self.loaded.state_dir)
        for name in STEPS:
            journal.forget(name)
        (self.loaded.state_dir / "kubeconfig").unlink(missing_ok=True)
        return deleted


@contextlib.contextmanager
def destruction(loaded: Loaded, *, dry_run: bool = False) -> Iterator[Destruction]:
    """destroy needs only the subscription (not the names provision requires), and Graph only if
    provision created an application; both credentials are checked before anything is deleted. A dry
    run only reads, so it takes no lock, as provision's does not."""
    from ..state import StateLock

    subscription = loaded.config.azure.subscription_id
    if not subscription:
        raise UsageError("azure.subscription_id must be set for destroy",
                         hint=f"add it to {loaded.path or 'jhubctl.yaml'}")
    with contextlib.nullcontext() if dry_run else StateLock(loaded.state_dir, "destroy"):
        graph = _graph(loaded) if _created_application(loaded) and not dry_run else None
        try:
            yield Destruction(loaded, _arm(loaded, subscription), graph)
        finally:
            if graph is not None:
                graph.close()
