"""`build-hub-image` as a workflow: plan from the config and journal (no network), then build only if the
registry lacks the tag.

Where it builds: target azure builds in the registry with ACR Tasks unless ``--local-docker``; target
kubernetes always uses docker and the configured ``registry.server``. The architecture is the nodes', see
:mod:`.platform`; it is part of the tag, so an arm64 and an amd64 build never share one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Loaded
from ..errors import JhubctlError, UsageError
from ..state import Journal
from .context import BuildContext, hub_base_image, hub_context, image_tag, tag
from .platform import check, nodes_arch, vm_arch

STEP = "build-hub-image"
#: A cluster to ask for its nodes, when the config does not say their architecture.
Cluster = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class ImagePlan:
    server: str
    repository: str
    tag: str
    platform: str
    builder: str  # "acr-tasks" | "docker"
    base: str
    context: BuildContext

    @property
    def image(self) -> str:
        return f"{self.server}/{self.repository}:{self.tag}"

    def as_dict(self) -> dict[str, Any]:
        return {"image": self.image, "repository": f"{self.server}/{self.repository}", "tag": self.tag,
                "platform": self.platform, "builder": self.builder, "base": self.base,
                "files": [path for path, _, _ in self.context.files]}


@dataclass(frozen=True)
class ImageResult:
    plan: ImagePlan
    built: bool
    run_id: str | None = None

    def outputs(self) -> dict[str, Any]:
        plan = self.plan
        out = {"image": plan.image, "tag": plan.tag, "platform": plan.platform, "builder": plan.builder,
               "base": plan.base, "built": self.built}
        return out | ({"run_id": self.run_id} if self.run_id else {})


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
        "registry.server must be set for target kubernetes: the registry the hub image is pushed to and pulled from",
        hint="e.g. ghcr.io/<you>, or localhost:5001 for a kind cluster with a local registry",
    )


def node_arch(loaded: Loaded, cluster: Cluster | None) -> str:
    """The nodes' architecture: from the VM size on azure, else kubernetes.node_arch, else the cluster.

    ``cluster`` None means no cluster may be asked (dry runs): then the last build's record must say it.
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
        record = Journal(loaded.state_dir).get(STEP)
        platform = record.outputs.get("platform") if record is not None and record.status == "succeeded" else None
        if platform:
            return str(platform).split("/", 1)[1]
        raise UsageError(
            "the image tag depends on the nodes' architecture, which only the cluster knows",
            hint="set kubernetes.node_arch (amd64 or arm64) for a run without a cluster, or run build-hub-image first",
        )
    with cluster() as kube:
        return nodes_arch(list(kube.list_objects("Node")))


def plan(loaded: Loaded, *, cluster: Cluster | None, local_docker: bool = False, platform: str | None = None,
         force: bool = False) -> ImagePlan:
    config = loaded.config
    server = registry_server(loaded)  # config errors first, before any question to the cluster
    base = config.hub.base_image or hub_base_image(config.hub.chart_version)
    if image_tag(base) != config.hub.chart_version and not force:
        raise UsageError(
            f"the hub image must be built FROM the chart's own hub image: {base} is not version "
            f"{config.hub.chart_version} (hub.chart_version)",
            hint="fix hub.base_image or hub.chart_version (the seed's 3.2.1 image on chart 3.1.0 broke the hub), "
                 "or pass --force",
        )
    nodes = node_arch(loaded, cluster)
    wanted = platform.removeprefix("linux/") if platform else nodes
    resolved = check(wanted, nodes, force=force)
    context = hub_context(base)
    builder = "docker" if local_docker or config.target != "azure" else "acr-tasks"
    return ImagePlan(server, config.registry.hub_image_name, tag(config.hub.chart_version, context, resolved),
                     resolved, builder, base, context)


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
    with Journal(loaded.state_dir).step(STEP, loaded.config.digest("hub", "registry")) as outputs:
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
