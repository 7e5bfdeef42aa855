"""`build-hub-image` and `build-singleuser-image` as one workflow: plan from the config, the journal (and, for
the singleuser image, the interpreter lock) with no network, then build only if the registry lacks the tag.

Where it builds: target azure builds in the registry with ACR Tasks unless ``--local-docker``; target
kubernetes always uses docker and the configured ``registry.server``. The architecture is the nodes', see
:mod:`.platform`; it is part of the tag, so an arm64 and an amd64 build never share one. The two images
differ only in their :class:`Source`: what they are built FROM and of.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Loaded
from ..errors import JhubctlError, UsageError
from ..state import Journal
from .context import BuildContext, hub_base_image, hub_context, image_tag, singleuser_base_image, singleuser_context, tag
from .platform import check, nodes_arch, vm_arch

if TYPE_CHECKING:
    from ..packages import Lock

#: A cluster to ask for its nodes, when the config does not say their architecture.
Cluster = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Kind:
    """One of the images jhubctl builds: its command (and journal step), and the config its record covers."""

    step: str
    name: str
    sections: tuple[str, ...]


HUB = Kind("build-hub-image", "hub image", ("hub", "registry"))
SINGLEUSER = Kind("build-singleuser-image", "singleuser image", ("hub", "registry", "interpreter", "servers"))


@dataclass(frozen=True)
class Source:
    """What one image is built of: its repository, its base and its context, and facts its record keeps."""

    kind: Kind
    repository: str
    base: str
    context: BuildContext
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImagePlan:
    source: Source
    server: str
    tag: str
    platform: str
    builder: str  # "acr-tasks" | "docker"

    @property
    def kind(self) -> Kind:
        return self.source.kind

    @property
    def repository(self) -> str:
        return self.source.repository

    @property
    def base(self) -> str:
        return self.source.base

    @property
    def context(self) -> BuildContext:
        return self.source.context

    @property
    def image(self) -> str:
        return f"{self.server}/{self.repository}:{self.tag}"

    def as_dict(self) -> dict[str, Any]:
        return {"image": self.image, "repository": f"{self.server}/{self.repository}", "tag": self.tag,
                "platform": self.platform, "builder": self.builder, "base": self.base, **self.source.facts,
                "files": [path for path, _, _ in self.context.files]}


@dataclass(frozen=True)
class ImageResult:
    plan: ImagePlan
    built: bool
    run_id: str | None = None

    def outputs(self) -> dict[str, Any]:
        plan = self.plan
        out = {"image": plan.image, "tag": plan.tag, "platform": plan.platform, "builder": plan.builder,
               "base": plan.base, **plan.source.facts, "built": self.built}
        return out | ({"run_id": self.run_id} if self.run_id else {})


def hub_source(loaded: Loaded, *, force: bool = False) -> Source:
    """FROM the chart's own hub image of hub.chart_version (or hub.base_image, which must be that version)."""
    config = loaded.config
    base = config.hub.base_image or hub_base_image(config.hub.chart_version)
    if image_tag(base) != config.hub.chart_version and not force:
        raise UsageError(
            f"the hub image must be built FROM the chart's own hub image: {base} is not version "
            f"{config.hub.chart_version} (hub.chart_version)",
            hint="fix hub.base_image or hub.chart_version (the seed's 3.2.1 image on chart 3.1.0 broke the hub), "
                 "or pass --force",
        )
    return Source(HUB, config.registry.hub_image_name, base, hub_context(base))


def singleuser_source(loaded: Loaded, lock: Lock, *, force: bool = False) -> Source:
    """The lock on the pinned Python of its version (or interpreter.base_image, which must be that version)."""
    config = loaded.config
    python, hub = lock.python or config.interpreter.python, lock.jupyterhub or ""
    base = config.interpreter.base_image or singleuser_base_image(python)
    found = re.match(r"(\d+\.\d+)(?:\.|-|$)", image_tag(base) or "")
    if found and found.group(1) != python and not force:
        raise UsageError(f"the singleuser image must be built on Python {python} (the lock's): {base} is Python "
                         f"{found.group(1)}", hint="fix interpreter.base_image or interpreter.python, or pass --force")
    context = singleuser_context(base, lock=lock.text, python=python, jupyterhub=hub, uid=config.servers.uid,
                                 gid=config.servers.fs_gid)
    return Source(SINGLEUSER, config.registry.singleuser_image_name, base, context,
                  {"lock": str(lock.path), "lock_sha256": lock.sha256})


def lock_for_image(loaded: Loaded) -> Lock:
    """The interpreter lock of the current config, as it stands: planning never resolves one."""
    from ..packages import LockInput, lock_path, read_lock

    path = lock_path(loaded)
    lock = read_lock(path)
    if lock is not None and lock.input_digest == LockInput.of(loaded.config).digest:
        return lock
    state = "does not exist yet" if lock is None else "was resolved from another interpreter config"
    raise UsageError(f"the singleuser image is built from the interpreter lock, and {path} {state}",
                     hint="run `jhubctl build-singleuser-image` (it resolves the lock first; `jhubctl up` too), "
                          "or set registry.singleuser_image to an image of your own")


def registry_server(loaded: Loaded) -> str:
    """Where images go: registry.server, else (azure) the ACR provision made."""
    config = loaded.config
    if config.registry.server:
        return config.registry.server
    if config.target == "azure":
        record = Journal(loaded.state_dir).get("registry")
        if record is not None and record.status == "succeeded" and record.outputs.get("login_server"):
            return str(record.outputs["login_server"])
        if config.registry.name:
            return f"{config.registry.name.lower()}.azurecr.io"
        raise UsageError("registry.name must be set for target azure", hint="see config.example.yaml")
    raise UsageError(
        "registry.server must be set for target kubernetes: the registry images are pushed to and pulled from",
        hint="e.g. ghcr.io/<you>, or localhost:5001 for a kind cluster with a local registry",
    )


def node_arch(loaded: Loaded, cluster: Cluster | None) -> str:
    """The nodes' architecture: from the VM size on azure, else kubernetes.node_arch, else the cluster.

    ``cluster`` None means no cluster may be asked (dry runs): then the last image build's record must say it.
    """
    config = loaded.config
    configured = config.kubernetes.node_arch
    if config.target == "azure":
        sized = vm_arch(config.aks.node_vm_size)
        if configured and configured != sized:
            raise UsageError(
                f"kubernetes.node_arch {configured} contradicts aks.node_vm_size {config.aks.node_vm_size} ({sized})",
                hint="drop kubernetes.node_arch on target azure",
            )
        return sized
    if configured:
        return configured
    if cluster is None:
        journal = Journal(loaded.state_dir)
        for kind in (HUB, SINGLEUSER):
            record = journal.get(kind.step)
            platform = record.outputs.get("platform") if record is not None and record.status == "succeeded" else None
            if platform:
                return str(platform).split("/", 1)[1]
        raise UsageError(
            "the image tag depends on the nodes' architecture, which only the cluster knows",
            hint="set kubernetes.node_arch (amd64 or arm64) for a run without a cluster, or build an image first",
        )
    with cluster() as kube:
        return nodes_arch(list(kube.list_objects("Node")))


def plan(loaded: Loaded, source: Source | None = None, *, cluster: Cluster | None, local_docker: bool = False,
         platform: str | None = None, force: bool = False, nodes: str | None = None) -> ImagePlan:
    """Where and how ``source`` (default: the hub image's) is built, and its tag; nothing is built or asked but
    the nodes' architecture (unless ``nodes`` already says it)."""
    config = loaded.config
    server = registry_server(loaded)  # config errors first, before any question to the cluster
    source = source or hub_source(loaded, force=force)
    nodes = nodes or node_arch(loaded, cluster)
    wanted = platform.removeprefix("linux/") if platform else nodes
    resolved = check(wanted, nodes, force=force)
    builder = "docker" if local_docker or config.target != "azure" else "acr-tasks"
    return ImagePlan(source, server, tag(config.hub.chart_version, source.context, resolved), resolved, builder)


def built(loaded: Loaded, image: ImagePlan) -> bool:
    """Whether the last build of that kind recorded this very image."""
    record = Journal(loaded.state_dir).get(image.kind.step)
    return record is not None and record.status == "succeeded" and record.outputs.get("image") == image.image


def acr_for(loaded: Loaded, server: str) -> Any:
    from ..azure.credentials import arm_credential
    from .acr import Acr

    config = loaded.config
    if not config.azure.subscription_id or not config.registry.name:
        raise UsageError("azure.subscription_id and registry.name must be set to build in the registry",
                         hint="or pass --local-docker")
    return Acr(arm_endpoint=config.azure.arm_endpoint, subscription_id=config.azure.subscription_id,
               resource_group=config.azure.resource_group, name=config.registry.name, login_server=server,
               credential=arm_credential(config.azure.arm_endpoint, config.azure.tenant_id, loaded.environ),
               tenant_id=config.azure.tenant_id)


def build(loaded: Loaded, image: ImagePlan, *, on_line: Callable[[str], None] | None = None) -> ImageResult:
    """Build and push ``image`` unless the registry holds its tag already; the journal records the outcome."""
    with Journal(loaded.state_dir).step(image.kind.step, loaded.config.digest(*image.kind.sections)) as outputs:
        result = _docker(loaded, image, on_line) if image.builder == "docker" else _acr(loaded, image, on_line)
        outputs.update(result.outputs())
    return result


def _docker(loaded: Loaded, image: ImagePlan, on_line: Callable[[str], None] | None) -> ImageResult:
    from .docker import Docker

    docker = Docker(loaded.config.tools.docker, loaded.environ)
    docker.check()
    if loaded.config.target == "azure":  # `az acr login`, without az
        from .acr import TOKEN_USER

        acr = acr_for(loaded, image.server)
        try:
            docker.login(image.server, TOKEN_USER, acr.refresh_token())
        finally:
            acr.close()
    if docker.has_image(image.image):
        return ImageResult(image, built=False)
    with tempfile.TemporaryDirectory(prefix="jhubctl-context-") as folder:
        image.context.write(Path(folder))
        docker.build(Path(folder), image.image, image.platform, on_line)
    return ImageResult(image, built=True)


def _acr(loaded: Loaded, image: ImagePlan, on_line: Callable[[str], None] | None) -> ImageResult:
    acr = acr_for(loaded, image.server)
    try:
        if acr.has_tag(image.repository, image.tag):
            return ImageResult(image, built=False)
        source = acr.upload(image.context.tarball())
        run_id = acr.schedule(source, [f"{image.repository}:{image.tag}"], image.platform)
        run = acr.follow(run_id, on_line)
    finally:
        acr.close()
    if run.status != "Succeeded":
        raise JhubctlError(
            f"the ACR build run {run_id} ended {run.status}" + (f" ({run.error})" if run.error else "")
            + f"; the end of its log:\n{run.tail()}",
            hint=f"the whole log: az acr task logs --registry {loaded.config.registry.name} --run-id {run_id}",
        )
    return ImageResult(image, built=True, run_id=run_id)
