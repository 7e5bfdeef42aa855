"""`deploy-hub`: the seed's section 5.3 as one step that knows when it has nothing to do.

Plan (config, journal and interpreter lock only; no cluster, helm or Azure needed): the values, with the
images the build commands make for this config, checked against the chart's schema, and the exact helm
argv. Run: refuse images not built yet and a release stuck ``pending-*``; skip helm when the deployed
revision is the one this journal recorded with the same values; else create the namespace and (service
principal mode) the pull secret, add the chart repository if missing, and ``helm upgrade --install`` with
the values in a 0600 file that exists only for that call. ``--wait`` then waits for the hub and proxy to
roll out, for ``proxy-public`` to get an address, and for the hub's API to answer our token, and records
the hub URL, which every other command then uses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Loaded
from ..errors import JhubctlError, UsageError
from ..state import Journal, Secrets, ensure_private_dir
from ..targets.cluster import HUB_STEP
from . import pullsecret, schema
from .values import Facts, dump, overlay, redact, values

if TYPE_CHECKING:
    from ..image.build import Cluster, ImagePlan
    from ..kube.client import KubeClient

#: Deployments the chart makes; autohttps only with HTTPS.
DEPLOYMENTS = ("hub", "proxy")
SERVICE = "proxy-public"
VALUES_PLACEHOLDER = "<0600 values file>"


@dataclass(frozen=True)
class DeployPlan:
    release: str
    namespace: str
    chart: str  # jupyterhub, or <repo>/jupyterhub once the repository is known
    version: str
    image: str
    singleuser_image: str
    values: dict[str, Any] = field(repr=False)  # holds the API token: never shown, never written but for helm
    shown: dict[str, Any] = field(default_factory=dict)  # redacted
    digest: str = ""
    pull_secret: str | None = None
    schema_checked: bool = True
    #: The images build-hub-image / build-singleuser-image must have recorded (not one of the user's own).
    builds: tuple[ImagePlan, ...] = ()

    def argv(self, program: str, kubeconfig: Path, context: str | None, timeout: float) -> list[str]:
        """The helm command as a dry run shows it (the repository under the name jhubctl would add)."""
        from .helm import REPO_NAME, cluster_flags, upgrade_argv

        return upgrade_argv(program, self.release, f"{REPO_NAME}/{self.chart}", self.version, self.namespace,
                            VALUES_PLACEHOLDER, timeout, cluster_flags(kubeconfig, context))

    def as_dict(self) -> dict[str, Any]:
        return {"release": self.release, "namespace": self.namespace, "chart": self.chart, "version": self.version,
                "image": self.image, "singleuser_image": self.singleuser_image, "pull_secret": self.pull_secret,
                "values": self.shown}


@dataclass(frozen=True)
class DeployResult:
    release: str
    namespace: str
    revision: int
    installed: bool  # False: the recorded revision was current, helm did not run
    url: str | None
    hub_version: str | None = None
    steps: list[tuple[str, str]] = field(default_factory=list)  # (what, action) in order

    def as_dict(self) -> dict[str, Any]:
        return {"release": self.release, "namespace": self.namespace, "revision": self.revision,
                "installed": self.installed, "url": self.url, "hub_version": self.hub_version,
                "steps": [{"step": s, "action": a} for s, a in self.steps]}


def plan(loaded: Loaded, *, cluster: Cluster | None, create_token: bool = True) -> DeployPlan:
    """The values and where they go, from the config, the journal and the interpreter lock; ``cluster`` None:
    ask no cluster. The images are the ones the build commands make for this config (their plans are
    recomputed, so a build of an older config is not taken); registry.singleuser_image replaces the second."""
    from ..image.build import lock_for_image, node_arch, plan as image_plan, singleuser_source
    from ..kube.storage import plan as storage_plan

    config = loaded.config
    nodes = node_arch(loaded, cluster)
    hub = image_plan(loaded, cluster=cluster, force=True, nodes=nodes)  # the build commands are the ones that refuse
    builds = [hub]
    singleuser = config.registry.singleuser_image
    if singleuser is None:
        builds.append(image_plan(loaded, singleuser_source(loaded, lock_for_image(loaded), force=True),
                                 cluster=cluster, force=True, nodes=nodes))
        singleuser = builds[-1].image
    token = Secrets(loaded.state_dir, loaded.environ).api_token(create=create_token) or ""
    pull = pullsecret.NAME if config.target == "azure" and config.aks.identity == "service-principal" else None
    facts = Facts(f"{hub.server}/{hub.repository}", hub.tag, storage_plan(loaded).claim, token, singleuser, pull)
    data = overlay(config, values(config, facts))
    checked = schema.validate(data, config.hub.chart_version)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return DeployPlan(config.hub.release, config.kubernetes.namespace, "jupyterhub", config.hub.chart_version,
                      hub.image, singleuser, data, redact(config, data), digest, pull, checked, tuple(builds))


@contextlib.contextmanager
def values_file(state_dir: Path, data: dict[str, Any]) -> Iterator[Path]:
    """The values in a 0600 file in a 0700 folder of the state dir, removed when the block ends (even on Ctrl-C)."""
    folder = ensure_private_dir(state_dir / "tmp")
    fd, name = tempfile.mkstemp(dir=folder, prefix="values-", suffix=".yaml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump(data))
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def recorded(loaded: Loaded) -> dict[str, Any]:
    """What the last deploy-hub recorded, even if its wait failed: the revision and values digest are written
    only once helm succeeded, so a re-run after a timed-out wait skips helm and only waits again."""
    record = Journal(loaded.state_dir).get(HUB_STEP)
    return record.outputs if record is not None else {}


@dataclass
class Deployer:
    """Runs a plan against one cluster; what it needs from outside is injectable."""

    loaded: Loaded
    kube: KubeClient
    kubeconfig: Path
    context: str | None
    on_status: Callable[[str], None] = lambda message: None
    on_wait: Callable[[str], None] | None = None
    credentials: pullsecret.Credentials | None = None
    #: Sees what is about to change (only when something is) and raises to refuse.
    approve: Callable[[list[str]], None] | None = None

    def run(self, deploy: DeployPlan, *, wait: bool, timeout: float) -> DeployResult:
        from .helm import Helm, HelmError, recovery, upgrade_argv

        from ..image.build import built

        config = self.loaded.config
        for image in deploy.builds:
            if not built(self.loaded, image):
                raise UsageError(f"the {image.kind.name} {image.image} has not been built for this config",
                                 hint=f"run `jhubctl {image.kind.step}` first (`jhubctl up` builds both)")
        helm = Helm(config.tools.helm, self.loaded.environ, kubeconfig=self.kubeconfig, context=self.context)
        helm.version()
        release = helm.release(deploy.release, deploy.namespace)
        if release is not None and release.pending:
            raise HelmError(
                f"release {deploy.release} in namespace {deploy.namespace} is {release.status} (revision "
                f"{release.revision}): an earlier helm run was interrupted, and helm refuses every change until it is cleared",
                hint=recovery(deploy.release, deploy.namespace, release.status),
            )
        before = recorded(self.loaded)
        current = (release is not None and release.status == "deployed" and before.get("revision") == release.revision
                   and before.get("values_digest") == deploy.digest)
        if not current and self.approve is not None:
            self.approve([f"helm {'install' if release is None else 'upgrade'} release {deploy.release} "
                          f"(chart {deploy.version}, hub image {deploy.image}, singleuser image "
                          f"{deploy.singleuser_image}) in namespace {deploy.namespace}"])
        steps: list[tuple[str, str]] = []
        with Journal(self.loaded.state_dir).step(HUB_STEP, config.digest("hub", "servers", "kubernetes")) as outputs:
            from ..kube.storage import ensure_namespace

            steps.append((f"namespace {deploy.namespace}", ensure_namespace(self.kube, deploy.namespace)))
            if deploy.pull_secret:  # before helm: the release's first pods need it
                steps.append((f"secret {deploy.namespace}/{deploy.pull_secret}", self._pull_secret(deploy)))
            if current:
                assert release is not None
                revision = release.revision
                steps.append((f"release {deploy.release} revision {revision}", "unchanged"))
            else:
                repo = helm.repository(config.hub.chart_repo)
                helm.ensure_chart(repo, deploy.version)
                self.on_status(f"helm upgrade --install {deploy.release} {repo}/{deploy.chart} {deploy.version}")
                with values_file(self.loaded.state_dir, deploy.values) as path:
                    argv = upgrade_argv(helm.program, deploy.release, f"{repo}/{deploy.chart}", deploy.version,
                                        deploy.namespace, str(path), timeout, helm.cluster)
                    helm.upgrade(argv, deploy.release, deploy.namespace)
                after = helm.release(deploy.release, deploy.namespace)
                revision = after.revision if after is not None else 0
                steps.append((f"release {deploy.release} revision {revision}", "installed" if release is None else "upgraded"))
            outputs.update({"release": deploy.release, "namespace": deploy.namespace, "revision": revision,
                            "chart_version": deploy.version, "image": deploy.image,
                            "singleuser_image": deploy.singleuser_image, "values_digest": deploy.digest})
            url, version = (self._wait(deploy, timeout) if wait else (self._address(deploy), None))
            if url:
                outputs["url"] = url
            if version:
                outputs["hub_version"] = version
        return DeployResult(deploy.release, deploy.namespace, revision, not current, url, version, steps)

    def _pull_secret(self, deploy: DeployPlan) -> str:
        from ..image.build import registry_server

        identity = Journal(self.loaded.state_dir).get("identity")
        username = identity.outputs.get("app_id") if identity is not None and identity.status == "succeeded" else None
        credentials = self.credentials or (lambda: pullsecret.service_principal_credentials(self.loaded))
        return pullsecret.ensure(self.kube, deploy.namespace, registry_server(self.loaded), username, credentials)

    def _address(self, deploy: DeployPlan) -> str | None:
        from ..kube.wait import address

        service = self.kube.get("Service", SERVICE, deploy.namespace)
        host = address(service) if service is not None else None
        return hub_url(service, host, self.loaded.config.hub.domain) if host and service else None

    def _wait(self, deploy: DeployPlan, timeout: float) -> tuple[str, str]:
        from ..hubapi.client import HubClient, HubError
        from ..kube.wait import address, explain_deployment, explain_service, rolled_out, until

        kube, ns = self.kube, deploy.namespace
        names = DEPLOYMENTS + (("autohttps",) if self.loaded.config.hub.domain else ())
        for name in names:
            until(f"Deployment {ns}/{name} to roll out", lambda name=name: rolled_out(kube, ns, name), timeout=timeout,
                  explain=lambda name=name: explain_deployment(kube, ns, name), on_wait=self.on_wait)
        service = until(f"Service {ns}/{SERVICE} to get an external address",
                        lambda: (lambda s: s if s is not None and address(s) else None)(kube.get("Service", SERVICE, ns)),
                        timeout=timeout, explain=lambda: explain_service(kube, ns, SERVICE), on_wait=self.on_wait)
        host = address(service)
        assert host is not None
        url = hub_url(service, host, self.loaded.config.hub.domain)
        token = deploy.values["hub"]["services"][self.loaded.config.hub.api_service_name]["apiToken"]
        last: list[str] = []

        def answers() -> str | None:
            try:
                with HubClient(url, token, timeout=10) as hub:
                    return hub.version()
            except (HubError, JhubctlError) as exc:
                last[:] = [exc.message]
                return None

        domain = self.loaded.config.hub.domain
        dns = f"; point DNS for {domain} at {host} (an A record) if not done" if domain else ""
        version = until(f"the hub API at {url} to answer the API token", answers, timeout=timeout,
                        explain=lambda: (last[0] if last else "no answer") + dns, on_wait=self.on_wait)
        return url, version


def hub_url(service: dict[str, Any], host: str, domain: str | None) -> str:
    """``https://<domain>`` with HTTPS; else ``http://<address>[:port]`` of the Service's ``http`` port."""
    if domain:
        return f"https://{domain}"
    ports = (service.get("spec") or {}).get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "http"), ports[0].get("port") if ports else 80)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}" + ("" if int(port) == 80 else f":{port}")
