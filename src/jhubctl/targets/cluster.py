"""The cluster targets: `kubernetes` (an existing cluster from a kubeconfig) and `azure` (provision first).

`up` runs the cluster half in order, each step skipping what is done and current and saying so:
apply-storage (the shared claim) → build-hub-image (only if the registry lacks the tag) →
build-singleuser-image (the interpreter lock resolved only if its input changed; the image built only if
the registry lacks its tag; skipped for a registry.singleuser_image of the user's own) → deploy-hub (helm
only if the recorded revision is not current; then waits for the hub's API) → a health gate that runs one
line of code in a throwaway conversation and removes its server. `down` uninstalls the release and keeps
the data. The hub URL is what `deploy-hub` records under `HUB_STEP`.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import JhubctlError
from . import DownResult, Target, UpResult, interpreter_lock

if TYPE_CHECKING:
    from ..config import Loaded
    from ..image.build import ImagePlan
    from ..output import Output

#: The journal step whose outputs hold the deployed hub's URL.
HUB_STEP = "deploy-hub"
#: Who runs the health gate's line of code, and what it runs.
HEALTH_USER = "jhubctl-health"
HEALTH_CODE = "print(6 * 7)"


def provision(loaded: Loaded, out: Output) -> None:
    """`up` on azure starts here: the Azure infrastructure, through the provisioning workflow (`up` is the consent)."""
    from ..azure import provision as core
    from ..steps.view import StepView

    with core.provisioning(loaded) as run:
        with StepView(out, run.step_names, transient=True) as live:
            plan = run.plan(live)
        steps = plan.steps
        if not plan.failed:
            with StepView(out, run.step_names) as live:
                steps = run.apply(live).steps
    failed = [r for r in steps if r.status not in ("planned", "succeeded")]
    if failed:
        first = failed[0]
        raise JhubctlError(f"provision did not finish: {first.name}: {first.error or first.status}",
                           hint=first.hint or f"resume with: {core.resume_command(loaded)}")


@dataclass(frozen=True)
class HealthCheck:
    conversation: str
    stdout: str
    seconds: float


def health_gate(loaded: Loaded, url: str, on_progress: Any = None) -> HealthCheck:
    """Start a server for a throwaway conversation, run one line, then stop and remove the server."""
    from ..hubapi.client import HubClient
    from ..interpreter import Interpreter
    from ..state import Secrets

    token = Secrets(loaded.state_dir, loaded.environ).api_token(create=False)
    if not token:
        raise JhubctlError("no API token to check the hub with", hint="run `jhubctl deploy-hub`")
    servers = loaded.config.servers
    conversation = f"check-{secrets.token_hex(4)}"
    began = time.monotonic()
    with HubClient(url, token) as hub:
        try:
            with Interpreter(hub, HEALTH_USER, conversation, start_timeout=servers.start_timeout,
                             idle_timeout=servers.progress_idle_timeout) as interpreter:
                result = interpreter.execute(HEALTH_CODE, timeout=servers.exec_timeout, on_progress=on_progress)
        finally:
            with contextlib.suppress(JhubctlError):
                hub.stop_server(HEALTH_USER, conversation, remove=True)
    if result.status != "ok" or result.stdout.strip() != "42":
        raise JhubctlError(f"health check: `{HEALTH_CODE}` gave {result.status} {result.stdout.strip()!r} {result.error or ''}")
    return HealthCheck(conversation, result.stdout.strip(), time.monotonic() - began)


class KubernetesTarget(Target):
    name = "kubernetes"
    setup_command = "jhubctl deploy-hub"

    def before_up(self, out: Output) -> None:
        """What comes before the cluster half (nothing: the cluster exists)."""

    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        from ..chart.deploy import Deployer, plan as deploy_plan
        from ..image.build import plan as image_plan, singleuser_source
        from ..kube import storage
        from ..kube.connect import cluster, kubeconfig

        self.before_up(out)
        loaded, timeout = self.loaded, self.loaded.config.kubernetes.wait_timeout
        path, context = kubeconfig(loaded)
        with cluster(loaded) as kube:

            def same() -> contextlib.nullcontext[Any]:  # every step asks the one client
                return contextlib.nullcontext(kube)

            with out.progress("apply-storage") as bar:
                stored = storage.run(loaded, kube, storage.plan(loaded), on_wait=lambda m: bar.update(message=m))
            _said(out, "apply-storage", stored.changed, f"claim {stored.namespace}/{stored.claim} is {stored.phase}")
            hub = image_plan(loaded, cluster=same)
            built = _build(out, loaded, hub)
            if loaded.config.registry.singleuser_image is None:
                singleuser = image_plan(loaded, singleuser_source(loaded, interpreter_lock(loaded, out)), cluster=same,
                                        nodes=hub.platform.split("/", 1)[1])
                built = _build(out, loaded, singleuser) or built
            deploy = deploy_plan(loaded, cluster=same)
            with out.progress("deploy-hub") as bar:
                deployed = Deployer(loaded, kube, path, context, on_status=out.info,
                                    on_wait=lambda m: bar.update(message=m)).run(deploy, wait=True, timeout=timeout)
            _said(out, "deploy-hub", deployed.installed,
                  f"release {deployed.release} revision {deployed.revision}, hub {deployed.hub_version} at {deployed.url}")
        assert deployed.url is not None
        facts: dict[str, Any] = {"release": deployed.release, "namespace": deployed.namespace,
                                 "revision": deployed.revision, "image": deploy.image,
                                 "singleuser_image": deploy.singleuser_image, "claim": stored.claim}
        if smoke_test:
            with out.progress("health check", total=100) as bar:
                check = health_gate(loaded, deployed.url,
                                    on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
            out.success(f"health check: {HEALTH_CODE} printed {check.stdout} in {check.seconds:.1f} s "
                        f"(conversation {HEALTH_USER}/{check.conversation}, removed)")
            facts["health_check"] = {"conversation": check.conversation, "seconds": round(check.seconds, 2)}
        return UpResult(deployed.url, stored.changed or built or deployed.installed, facts)

    def down(self, out: Output) -> DownResult:
        from ..chart.helm import Helm
        from ..kube.connect import kubeconfig
        from ..state import Journal

        config = self.loaded.config
        release, namespace = config.hub.release, config.kubernetes.namespace
        path, context = kubeconfig(self.loaded)
        helm = Helm(config.tools.helm, self.loaded.environ, kubeconfig=path, context=context)
        url = self.recorded_url()
        found = helm.release(release, namespace) is not None
        if found:
            with out.progress(f"helm uninstall {release}"):
                helm.uninstall(release, namespace)
        Journal(self.loaded.state_dir).forget(HUB_STEP)
        claim = config.kubernetes.existing_claim or config.storage.pvc_name
        head = (f"release {release} uninstalled from namespace {namespace}" if found
                else f"no release {release} in namespace {namespace}: nothing to uninstall")
        return DownResult(url, found, f"{head}; the claim {namespace}/{claim} and every conversation's files stay"
                          + self.afterwards(), {"release": release, "namespace": namespace, "claim": claim})

    def afterwards(self) -> str:
        """What `down` adds about the rest (the cluster is the user's)."""
        return ""

    def interpreter(self) -> dict[str, Any]:
        """The lock, and the singleuser image deployed: its own (registry.singleuser_image), or the one built
        from a lock, and whether that lock is the current one."""
        from ..image.build import SINGLEUSER
        from ..state import Journal

        report = super().interpreter()
        if self.loaded.config.registry.singleuser_image:
            return report | {"image": {"image": self.loaded.config.registry.singleuser_image, "lock": None,
                                       "state": "registry.singleuser_image: not built from the lock"}}
        journal = Journal(self.loaded.state_dir)
        record = journal.get(SINGLEUSER.step)
        if record is None or record.status != "succeeded":
            return report | {"image": None}
        built = record.outputs
        lock = report.get("lock") or {}
        deployed = journal.get(HUB_STEP)
        state = "the current lock" if built.get("lock_sha256") == lock.get("sha256") else "an older lock"
        where = ("deployed" if deployed is not None and deployed.outputs.get("singleuser_image") == built.get("image")
                 else "not deployed yet (`jhubctl deploy-hub`)")
        return report | {"image": {"image": built.get("image"), "lock": built.get("lock"),
                                   "lock_sha256": built.get("lock_sha256"), "state": f"built from {state}; {where}"}}

    def recorded_url(self) -> str | None:
        from ..state import Journal

        record = Journal(self.loaded.state_dir).get(HUB_STEP)
        if record is None or record.status != "succeeded" or not record.outputs.get("url"):
            return None
        return str(record.outputs["url"])


class AzureTarget(KubernetesTarget):
    name = "azure"

    def before_up(self, out: Output) -> None:
        provision(self.loaded, out)

    def afterwards(self) -> str:
        return "; `jhubctl destroy` deletes the Azure infrastructure (cluster, registry, storage account and its data)"


def _build(out: Output, loaded: Loaded, image: ImagePlan) -> bool:
    """One image step of `up`: built if the registry lacks its tag; True if it was."""
    from ..image.build import build

    with out.progress(f"{image.kind.step} {image.image}") as bar:
        made = build(loaded, image, on_line=lambda line: bar.update(message=line))
    _said(out, image.kind.step, made.built,
          f"{image.image} built for {image.platform}" if made.built else f"{image.image} is in the registry")
    return made.built


def _said(out: Output, step: str, changed: bool, detail: str) -> None:
    if changed:
        out.success(f"{step}: {detail}")
    else:
        out.info(f"{step}: nothing to do ({detail})")
