"""Cluster checks (JH3xx): what the seed's `kubectl get ...` troubleshooting read by hand, read once.

Every kind is listed once (paginated) and shared by the checks that read it; logs are read only for
crashing containers, one per distinct container and image; the few single objects (the claim, the CSI
driver) are one GET each. So the number of calls does not grow with healthy pods, only the list pages do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import JhubctlError
from .finding import Outcome, Skip, fail, ok, warn
from .fixes import fix, only
from .logtail import TAIL, Cause, classify, last_lines
from .runner import Facts, checker, gate

if TYPE_CHECKING:
    from ..chart.helm import Release
    from ..kube.client import KubeClient

check = checker("cluster")

#: Seconds any one call may take: an unreachable API is a skip, not a long wait.
TIMEOUT = 10.0
#: Previous logs read at most per run, one per distinct (container, image) that crashes.
MAX_LOGS = 10
#: Restarts of a running container worth a warning.
RESTARTS = 3
#: Seconds a pod may stay Pending without a scheduling event before it counts as stuck.
PENDING_GRACE = 120
PULL_REASONS = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError"}
PROXY_SERVICE = "proxy-public"
HUB_DEPLOYMENT = "hub"
USER_ANNOTATION, SERVER_ANNOTATION = "hub.jupyter.org/username", "hub.jupyter.org/servername"


# -- facts -----------------------------------------------------------------------------------------------------
def namespace(f: Facts) -> str:
    return f.config.kubernetes.namespace


def client(f: Facts) -> KubeClient:
    if f.config.target == "local":
        raise Skip("target local: there is no cluster")

    def make() -> KubeClient:
        from ..kube.client import KubeClient
        from ..kube.connect import kubeconfig

        path, context = kubeconfig(f.loaded)
        kube = KubeClient.from_kubeconfig(path, context, timeout=TIMEOUT)
        f.closing(kube.close)
        return kube

    return f.once("kube", make)


def version(f: Facts) -> Any:
    return f.once("kube.version", lambda: client(f).server_version())


def api(f: Facts) -> KubeClient:
    """The client, once the API has answered; else every cluster check is skipped naming JH301."""
    gate("the Kubernetes API did not answer (JH301)", lambda: version(f))
    return client(f)


def listed(f: Facts, kind: str, *, cluster_wide: bool = False, fields: str | None = None) -> list[dict[str, Any]]:
    where = None if cluster_wide else namespace(f)
    return f.once(f"list {kind} {fields}", lambda: list(api(f).list_objects(kind, where, fields=fields)))


def warnings(f: Facts) -> list[dict[str, Any]]:
    """Warning events of the namespace: one list however many pods are healthy (their events are Normal)."""
    return listed(f, "Event", fields="type=Warning")


def named(objects: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((o for o in objects if o["metadata"]["name"] == name), None)


def release(f: Facts) -> Release | None:
    def make() -> Release | None:
        from ..chart.helm import Helm
        from ..kube.connect import kubeconfig

        api(f)
        path, context = kubeconfig(f.loaded)
        try:
            helm = Helm(f.config.tools.helm, f.loaded.environ, kubeconfig=path, context=context)
        except JhubctlError as exc:
            raise Skip(f"helm reads the release and is not usable (JH102): {exc.message}") from None
        return helm.release(f.config.hub.release, namespace(f))

    return f.once("helm release", make)


def hub_image(f: Facts) -> str | None:
    """The hub image the cluster runs (the hub Deployment's), else the one jhubctl last built."""
    deployment = named(listed(f, "Deployment"), HUB_DEPLOYMENT)
    containers = ((((deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    if containers:
        return str(containers[0].get("image"))
    from ..image.build import HUB
    from ..state import Journal

    record = Journal(f.loaded.state_dir).get(HUB.step)
    return str(record.outputs["image"]) if record is not None and record.outputs.get("image") else None


def user_image(f: Facts) -> str | None:
    """The user servers' image: registry.singleuser_image, else the one deploy-hub deployed, else the one
    build-singleuser-image last built."""
    if f.config.registry.singleuser_image:
        return f.config.registry.singleuser_image
    from ..image.build import SINGLEUSER
    from ..state import Journal
    from ..targets.cluster import HUB_STEP

    journal = Journal(f.loaded.state_dir)
    for step, key in ((HUB_STEP, "singleuser_image"), (SINGLEUSER.step, "image")):
        record = journal.get(step)
        if record is not None and record.outputs.get(key):
            return str(record.outputs[key])
    return None


def events_of(f: Facts, kind: str, name: str) -> list[str]:
    """All events (Normal too) of one object, newest last: one call, made only for an object in trouble."""
    from ..kube.wait import events

    return events(api(f), namespace(f), kind, name)


# -- reachability, nodes, images, storage ----------------------------------------------------------------------
@check("JH301", "the Kubernetes API answers with the configured kubeconfig and context")
def api_reachable(f: Facts) -> Outcome:
    from ..kube.client import KubeError
    from ..kube.connect import kubeconfig

    path, context = kubeconfig(f.loaded)
    where = [f"kubeconfig: {path}", f"context: {context or '(its current context)'}"]
    try:
        answer = version(f)
    except KubeError as exc:
        if f.config.target == "azure" and not path.exists():
            return fail("no kubeconfig for the cluster", where, fix("provision-only", only=only("kubeconfig")))
        return fail(f"the Kubernetes API did not answer: {exc.message}", where, _kubeconfig_fix(f))
    return ok(f"Kubernetes {answer} answers at {client(f).server}", where)


def _kubeconfig_fix(f: Facts) -> str:
    import shlex

    from ..kube.connect import kubeconfig

    path, context = kubeconfig(f.loaded)
    return fix("kubeconfig", path=path, context=f" --context {shlex.quote(context)}" if context else "")


@check("JH302", "every node is Ready")
def nodes_ready(f: Facts) -> Outcome:
    nodes = listed(f, "Node", cluster_wide=True)
    if not nodes:
        remedy = fix("provision-only", only=only("aks")) if f.config.target == "azure" else _kubeconfig_fix(f)
        return fail("the cluster has no nodes: nothing can run", ["nodes: 0"], remedy)
    seen, bad = [], []
    for node in nodes:
        name = node["metadata"]["name"]
        status = node.get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        arch = (status.get("nodeInfo") or {}).get("architecture", "?")
        if ready is None or ready.get("status") != "True":
            why = f"{ready.get('reason')}: {ready.get('message')}" if ready else "no Ready condition reported"
            bad.append((name, f"node {name}: Ready={ready.get('status') if ready else 'Unknown'} ({why})"))
        elif (node.get("spec") or {}).get("unschedulable"):
            bad.append((name, f"node {name}: Ready but cordoned (spec.unschedulable)"))
        else:
            seen.append(f"node {name}: Ready, {arch}")
    if bad:
        return fail(f"{len(bad)} of {len(nodes)} nodes are not Ready", [line for _, line in bad] + seen,
                    fix("describe-node", node=bad[0][0]))
    return ok(f"{len(nodes)} nodes Ready", seen)


def node_archs(f: Facts) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for node in listed(f, "Node", cluster_wide=True):
        counts[str(((node.get("status") or {}).get("nodeInfo") or {}).get("architecture") or "unknown")] += 1
    return dict(counts)


def registry(f: Facts) -> tuple[Any, list[str]]:
    """The registry client (with the ACR's pull token on azure), and notes on credentials it lacks."""

    def make() -> tuple[Any, list[str]]:
        from ..image.registry import Refresh, Registry

        credentials, notes = {}, []
        if f.config.target == "azure":
            from ..image.build import acr_for, registry_server

            try:
                server = registry_server(f.loaded)
                acr = acr_for(f.loaded, server)
                try:
                    credentials[server] = Refresh(acr.refresh_token())
                finally:
                    acr.close()
            except JhubctlError as exc:
                notes.append(f"no pull token for the ACR: {exc.message}")
        made = Registry(credentials)
        f.closing(made.close)
        return made, notes

    return f.once("registry", make)


@check("JH303", "the hub and user images are published for the nodes' CPU architecture")
def image_architectures(f: Facts) -> Outcome:
    from ..image.registry import RegistryError

    archs = node_archs(f)
    if not archs:
        raise Skip("the cluster has no nodes to compare with (JH302)")
    images = {"hub": hub_image(f), "user": user_image(f)}
    client_, notes = registry(f)
    evidence = [f"nodes: {', '.join(f'{n} {a}' for a, n in sorted(archs.items()))}", *notes]
    wrong, unread = [], []
    for role, image in images.items():
        if image is None:
            unread.append(role)
            evidence.append(f"{role} image: none deployed or built yet")
            continue
        try:
            platforms = client_.platforms(image)
        except RegistryError as exc:
            unread.append(role)
            evidence.append(f"{role} image {image}: could not read its manifest: {exc.message}")
            continue
        published = {p.split("/")[1] for p in platforms if p.count("/") >= 1}
        missing = sorted(set(archs) - published)
        evidence.append(f"{role} image {image}: {', '.join(platforms) or 'no platform'}")
        if missing:
            wrong.append((role, image, missing))
    if wrong:
        role, image, missing = wrong[0]
        which = " and ".join(f"the {r} image" for r, _, _ in wrong)
        remedy = fix("rebuild-hub") if role == "hub" else fix("singleuser-image", platform=f"linux/{missing[0]}")
        return fail(f"{which} has no build for the nodes' {', '.join(missing)} (exec format error)", evidence, remedy)
    if len(unread) == len(images):
        raise Skip("could not read either image's manifest: " + "; ".join(evidence[1:]))
    if unread:
        return warn(f"{' and '.join(unread)} image not checked; the other matches the nodes", evidence)
    return ok(f"both images run on {', '.join(sorted(archs))}", evidence)


@check("JH304", "the blob CSI driver applies fsGroup (fsGroupPolicy: File)")
def csi_driver(f: Facts) -> Outcome:
    from ..kube.csidriver import BLOB_DRIVER, TARGET_POLICY

    if f.config.kubernetes.existing_claim:
        raise Skip(f"kubernetes.existing_claim {f.config.kubernetes.existing_claim}: its driver is the cluster's own")
    driver = api(f).get("CSIDriver", BLOB_DRIVER)
    azure = f.config.target == "azure"
    if driver is None:
        return fail(f"there is no CSIDriver {BLOB_DRIVER}: the blob CSI driver is not installed",
                    [f"csidriver {BLOB_DRIVER}: not found"],
                    fix("provision-only", only=only("aks", "csi-driver")) if azure else fix("apply-storage"))
    policy = (driver.get("spec") or {}).get("fsGroupPolicy")
    evidence = [f"csidriver {BLOB_DRIVER}: spec.fsGroupPolicy={policy}"]
    if policy != TARGET_POLICY:
        remedy = fix("provision-only", only=only("csi-driver")) if azure else fix("csidriver-patch", driver=BLOB_DRIVER)
        return fail(f"fsGroupPolicy is {policy}: notebooks cannot write to the NFS volume (mounted root-owned)",
                    evidence, remedy)
    return ok(f"fsGroupPolicy is {TARGET_POLICY}", evidence)


@check("JH305", "the shared claim is Bound to its volume")
def storage_bound(f: Facts) -> Outcome:
    kube, ns, storage = api(f), namespace(f), f.config.storage
    claim_name = f.config.kubernetes.existing_claim or storage.pvc_name
    evidence: list[str] = []
    if not f.config.kubernetes.existing_claim:
        sc = kube.get("StorageClass", storage.storage_class)
        evidence.append(f"storageclass {storage.storage_class}: "
                        + (f"provisioner {sc.get('provisioner')}" if sc else "not found"))
        pv = kube.get("PersistentVolume", storage.pv_name)
        pv_phase = ((pv or {}).get("status") or {}).get("phase")
        evidence.append(f"persistentvolume {storage.pv_name}: {pv_phase or 'not found'}")
        if sc is None or pv is None:
            return fail("the storage class or volume is missing", evidence, fix("apply-storage"))
    claim = kube.get("PersistentVolumeClaim", claim_name, ns)
    if claim is None:
        evidence.append(f"persistentvolumeclaim {ns}/{claim_name}: not found")
        return fail(f"there is no claim {ns}/{claim_name}", evidence, fix("apply-storage"))
    phase = (claim.get("status") or {}).get("phase", "Pending")
    evidence.append(f"persistentvolumeclaim {ns}/{claim_name}: {phase}"
                    + (f", volume {claim['spec'].get('volumeName')}" if (claim.get("spec") or {}).get("volumeName") else ""))
    if phase != "Bound":
        said = events_of(f, "PersistentVolumeClaim", claim_name)
        evidence += [f"event: {line}" for line in said] or ["events: none recorded"]
        return fail(f"claim {ns}/{claim_name} is {phase}: user pods cannot start", evidence, fix("apply-storage"))
    return ok(f"claim {ns}/{claim_name} is Bound", evidence)


# -- the release and its hub image -------------------------------------------------------------------------
@check("JH306", "the helm release is deployed with the configured chart version")
def release_deployed(f: Facts) -> Outcome:
    from ..chart.deploy import recorded

    ns, name, want = namespace(f), f.config.hub.release, f.config.hub.chart_version
    found = release(f)
    if found is None:
        return fail(f"there is no release {name} in namespace {ns}", [f"helm list -n {ns}: no {name}"], fix("deploy-hub"))
    evidence = [f"release {name}: revision {found.revision}, {found.status}, chart {found.chart}"]
    if found.pending:
        remedy = (fix("helm-uninstall", release=name, namespace=ns) if found.status == "pending-install"
                  else fix("helm-rollback", release=name, namespace=ns))
        return fail(f"release {name} is {found.status}: an interrupted helm run left it, and helm refuses every change",
                    evidence, remedy)
    if found.status != "deployed":
        return fail(f"release {name} is {found.status}", evidence, fix("helm-rollback", release=name, namespace=ns))
    if found.chart != f"jupyterhub-{want}":
        return fail(f"release {name} runs chart {found.chart}, the config says jupyterhub-{want} (hub.chart_version)",
                    evidence, fix("deploy-hub"))
    ours = recorded(f.loaded).get("revision")
    if ours is not None and int(ours) != found.revision:
        evidence.append(f"jhubctl's journal: deploy-hub recorded revision {ours}")
        return warn(f"revision {found.revision} was not made by jhubctl (it recorded {ours}): someone ran helm by hand",
                    evidence, fix("deploy-hub"))
    return ok(f"release {name} revision {found.revision} deployed, chart {want}", evidence)


@check("JH307", "the hub image is built FROM the chart's own hub image of the same version")
def hub_image_version(f: Facts) -> Outcome:
    import re

    from ..image.build import HUB
    from ..image.context import image_tag
    from ..state import Journal

    image = hub_image(f)
    if image is None:
        raise Skip("no hub image is deployed or built yet")
    found = release(f)
    chart = found.chart.removeprefix("jupyterhub-") if found is not None else f.config.hub.chart_version
    evidence = [f"hub image: {image}", f"chart: {chart}" + ("" if found is not None else " (hub.chart_version)")]
    built = Journal(f.loaded.state_dir).get(HUB.step)
    base = built.outputs.get("base") if built is not None and built.outputs.get("image") == image else None
    if base:
        evidence.append(f"built FROM {base} (journal: build-hub-image)")
        version = image_tag(str(base))
    else:
        match = re.match(r"\d+\.\d+\.\d+", image_tag(image) or "")
        version = match.group(0) if match else None
    if version is None:
        return warn("cannot tell which hub version the image was built from", evidence, fix("rebuild-hub"))
    if version != chart:
        return fail(f"the hub image is version {version} on chart {chart}: the hub fails on config it does not know",
                    evidence, fix("base-image", version=chart, file=_config_file(f)))
    return ok(f"hub image and chart are both {chart}", evidence)


def _config_file(f: Facts) -> str:
    return str(f.loaded.path or "jhubctl.yaml")


# -- pods ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Container:
    pod: dict[str, Any]
    status: dict[str, Any]

    @property
    def pod_name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def name(self) -> str:
        return str(self.status.get("name"))

    @property
    def image(self) -> str:
        return str(self.status.get("image") or "")

    @property
    def waiting(self) -> dict[str, Any]:
        return (self.status.get("state") or {}).get("waiting") or {}

    @property
    def restarts(self) -> int:
        return int(self.status.get("restartCount") or 0)

    @property
    def last_exit(self) -> str:
        last = (self.status.get("lastState") or {}).get("terminated") or {}
        return f", last exit {last.get('exitCode')} ({last.get('reason')})" if last else ""

    def line(self) -> str:
        reason = self.waiting.get("reason") or "running"
        message = " ".join(str(self.waiting.get("message") or "").split())
        return (f"pod {self.pod_name} container {self.name}: {reason}" + (f": {message}" if message else "")
                + f", {self.restarts} restarts{self.last_exit}")


def containers(pod: dict[str, Any]) -> list[Container]:
    status = pod.get("status") or {}
    return [Container(pod, s) for key in ("initContainerStatuses", "containerStatuses") for s in status.get(key) or []]


def component(pod: dict[str, Any]) -> str:
    labels = pod["metadata"].get("labels") or {}
    return str(labels.get("component") or "")


def logs_target(pod: dict[str, Any]) -> str | None:
    """What `jhubctl logs` takes for this pod: hub, proxy, or USER CONVERSATION."""
    meta = pod["metadata"]
    if component(pod) in ("hub", "proxy"):
        return component(pod)
    annotations = meta.get("annotations") or {}
    user = annotations.get(USER_ANNOTATION)
    if user:
        import shlex

        return " ".join(shlex.quote(part) for part in (user, annotations.get(SERVER_ANNOTATION) or "") if part)
    return None


def pods(f: Facts) -> list[dict[str, Any]]:
    return listed(f, "Pod")


def _pod_fix(f: Facts, pod: dict[str, Any]) -> str:
    """Read its last run's log, or (a pod jhubctl cannot name) describe it."""
    target = logs_target(pod)
    if target is None:
        return fix("describe-pod", namespace=namespace(f), pod=pod["metadata"]["name"])
    return fix("previous-log", target=target)


def crashing(container: Container) -> bool:
    state = container.status.get("state") or {}
    terminated = state.get("terminated") or {}
    return container.waiting.get("reason") == "CrashLoopBackOff" or (
        container.restarts > 0 and bool(terminated) and terminated.get("exitCode") not in (0, None))


def previous_log(f: Facts, container: Container) -> str | None:
    """The tail of the container's last run; None if the kubelet keeps none."""
    try:
        return api(f).log(container.pod_name, namespace(f), container=container.name, previous=True, tail=TAIL)
    except JhubctlError:
        return None


@check("JH311", "no container is crash-looping", also={
    "JH312": "a container crash-loops with exec format error (image built for another CPU)",
    "JH313": "a container crash-loops on an import error (a package missing from its image)",
    "JH314": "the hub crash-loops on its configuration (the last values change)",
})
def crash_loops(f: Facts) -> Outcome | list[Outcome]:
    crashed = [c for pod in pods(f) for c in containers(pod) if crashing(c)]
    if not crashed:
        return ok(f"no container of {len(pods(f))} pods is crash-looping")
    groups: dict[tuple[str, str], list[Container]] = defaultdict(list)
    for container in crashed:
        groups[(container.name, container.image)].append(container)
    causes: dict[tuple[str, str], tuple[Cause | None, str | None]] = {}
    for n, (key, members) in enumerate(groups.items()):
        log = previous_log(f, members[0]) if n < MAX_LOGS else None
        causes[key] = (classify(log) if log else None, log)
    findings: dict[tuple[str, str, str], list[Container]] = defaultdict(list)
    for key, members in groups.items():
        cause = causes[key][0]
        for member in members:  # one finding per cause and component: the hub's fix and the users' differ
            findings[(_crash_code(cause), cause.detail if cause else "", component(member.pod))].append(member)
    out = []
    for (code, _, _), members in findings.items():
        first = members[0]
        remedy = _crash_fix(f, first, causes[(first.name, first.image)][0])
        cause, log = causes[(first.name, first.image)]
        evidence = [c.line() for c in members]
        if cause is not None:
            evidence.append(f"previous log of {first.pod_name}: {cause.line}")
        elif log:
            evidence += [f"previous log of {first.pod_name}: {line}" for line in last_lines(log)]
        else:
            evidence.append(f"previous log of {first.pod_name}: none kept by the kubelet")
        out.append(fail(_crash_summary(members, cause), evidence, remedy, code=code))
    return out


def _crash_code(cause: Cause | None) -> str:
    return {"architecture": "JH312", "package": "JH313", "config": "JH314"}.get(cause.kind if cause else "", "JH311")


def _crash_summary(members: list[Container], cause: Cause | None) -> str:
    who = f"{len(members)} containers" if len(members) > 1 else f"{members[0].pod_name}/{members[0].name}"
    why = {"architecture": "exec format error: the image is built for another CPU than the nodes'",
           "package": f"the image lacks the module {cause.detail}" if cause else "",
           "config": f"the hub's configuration fails: {cause.detail}" if cause else ""}.get(cause.kind if cause else "", "")
    return f"{who} crash-looping" + (f": {why}" if why else " (its last log shows no known cause)")


def _crash_fix(f: Facts, first: Container, cause: Cause | None) -> str:
    hub = component(first.pod) == "hub"
    kind = cause.kind if cause else None
    if kind == "architecture":
        arch = next(iter(node_archs(f)), "amd64")
        return fix("rebuild-hub") if hub else fix("singleuser-image", platform=f"linux/{arch}")
    if kind == "package" and cause is not None:
        return fix("hub-package", module=cause.detail) if hub else fix("user-package", module=cause.detail)
    if kind == "config" and hub:
        return fix("values-rollback", release=f.config.hub.release, namespace=namespace(f))
    return _pod_fix(f, first.pod)


@check("JH315", "every image can be pulled")
def image_pulls(f: Facts) -> Outcome | list[Outcome]:
    stuck = [c for pod in pods(f) for c in containers(pod) if c.waiting.get("reason") in PULL_REASONS]
    if not stuck:
        return ok("no container is waiting for its image")
    by_image: dict[str, list[Container]] = defaultdict(list)
    for container in stuck:
        by_image[container.image or "(no image)"].append(container)
    return [fail(f"{len(members)} container{'s' if len(members) > 1 else ''} cannot pull {image}",
                 [c.line() for c in members], _pull_fix(f, image, " ".join(c.line() for c in members)))
            for image, members in by_image.items()]


def _pull_fix(f: Facts, image: str, said: str) -> str:
    lowered = said.lower()
    hub = image == hub_image(f) or image.rsplit(":", 1)[0].endswith(f"/{f.config.registry.hub_image_name}")
    if "not found" in lowered or "manifest unknown" in lowered:
        return fix("build-hub") if hub else fix("image-missing", image=image)
    if f.config.target == "azure":
        if f.config.aks.identity == "managed":
            return fix("provision-only", only=only("role-assignments"))
        return fix("deploy-hub")
    return fix("image-auth", host=image.split("/", 1)[0])


@check("JH316", "no container waits on missing configuration (CreateContainerConfigError)")
def config_errors(f: Facts) -> Outcome:
    stuck = [c for pod in pods(f) for c in containers(pod) if c.waiting.get("reason") in CONFIG_REASONS]
    if not stuck:
        return ok("every container's secrets and config maps exist")
    return fail(f"{len(stuck)} container{'s' if len(stuck) > 1 else ''} cannot be created",
                [c.line() for c in stuck], fix("deploy-hub"))


def _age(obj: dict[str, Any]) -> float:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    return (datetime.now(UTC) - datetime.fromisoformat(str(created).replace("Z", "+00:00"))).total_seconds()


@check("JH317", "no pod is stuck unscheduled (Pending)")
def pending_pods(f: Facts) -> Outcome | list[Outcome]:
    pending = [p for p in pods(f) if (p.get("status") or {}).get("phase") == "Pending"
               and not any(c.status.get("state", {}).get("running") for c in containers(p))
               and not any(c.waiting.get("reason") in PULL_REASONS | CONFIG_REASONS for c in containers(p))]
    scheduling: dict[str, list[str]] = defaultdict(list)
    for event in warnings(f):
        involved = event.get("involvedObject") or {}
        if involved.get("kind") == "Pod" and event.get("reason") == "FailedScheduling":
            scheduling[str(involved.get("name"))].append(" ".join(str(event.get("message", "")).split()))
    by_reason: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in pending:
        said = scheduling.get(pod["metadata"]["name"])
        if said:
            by_reason[said[-1]].append(pod)
        elif _age(pod) > PENDING_GRACE:
            by_reason["no scheduling event yet"].append(pod)
    if not by_reason:
        return ok(f"no pod is stuck Pending ({len(pending)} starting)")
    out = []
    for reason, members in by_reason.items():
        first = members[0]["metadata"]["name"]
        evidence = [f"pod {p['metadata']['name']}: Pending {int(_age(p))} s" for p in members]
        evidence.append(f"event FailedScheduling: {reason}")
        azure = f.config.target == "azure" and ("insufficient" in reason.lower() or "too many pods" in reason.lower())
        remedy = (fix("scale-aks", count=f.config.aks.max_count, file=_config_file(f)) if azure
                  else fix("describe-pod", namespace=namespace(f), pod=first))
        out.append(fail(f"{len(members)} pod{'s' if len(members) > 1 else ''} cannot be scheduled: {reason}",
                        evidence, remedy))
    return out


@check("JH318", "no running container restarts again and again")
def restarts(f: Facts) -> Outcome:
    many = [c for pod in pods(f) for c in containers(pod)
            if c.restarts >= RESTARTS and not crashing(c) and (c.status.get("state") or {}).get("running")]
    if not many:
        return ok(f"no running container has restarted {RESTARTS} times or more")
    worst = max(many, key=lambda c: c.restarts)
    return warn(f"{len(many)} running container{'s' if len(many) > 1 else ''} restarted {RESTARTS}+ times",
                [c.line() for c in sorted(many, key=lambda c: -c.restarts)], _pod_fix(f, worst.pod))


# -- services ------------------------------------------------------------------------------------------------
@check("JH320", "every service has a ready endpoint")
def service_endpoints(f: Facts) -> Outcome:
    services = [s for s in listed(f, "Service") if (s.get("spec") or {}).get("selector")]
    endpoints = {e["metadata"]["name"]: e for e in listed(f, "Endpoints")}
    empty, seen = [], []
    for service in services:
        name = service["metadata"]["name"]
        subsets = (endpoints.get(name) or {}).get("subsets") or []
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        waiting = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        selector = ",".join(f"{k}={v}" for k, v in sorted(service["spec"]["selector"].items()))
        line = f"service {name} ({selector}): {ready} ready, {waiting} not ready"
        (seen if ready else empty).append((service, line))
    if not services:
        return ok("no service with a selector in the namespace")
    if empty:
        service = empty[0][0]
        target = (service["spec"]["selector"]).get("component")
        remedy = (fix("logs", target=target) if target in ("hub", "proxy")
                  else fix("describe-service", namespace=namespace(f), service=service["metadata"]["name"]))
        return fail(f"{', '.join(s['metadata']['name'] for s, _ in empty)} ha{'ve' if len(empty) > 1 else 's'} "
                    f"no ready endpoint: nothing answers behind {'them' if len(empty) > 1 else 'it'}",
                    [line for _, line in empty + seen], remedy)
    return ok(f"{len(services)} services have ready endpoints", [line for _, line in seen])


@check("JH321", "proxy-public has an external address")
def proxy_address(f: Facts) -> Outcome:
    from ..kube.wait import address

    ns = namespace(f)
    service = named(listed(f, "Service"), PROXY_SERVICE)
    if service is None:
        return fail(f"there is no Service {ns}/{PROXY_SERVICE}: the chart is not installed", [], fix("deploy-hub"))
    kind = (service.get("spec") or {}).get("type", "ClusterIP")
    if kind != "LoadBalancer":
        return ok(f"{PROXY_SERVICE} is a {kind} Service: no external address is expected", [f"spec.type: {kind}"])
    host = address(service)
    if host:
        return ok(f"{PROXY_SERVICE} answers at {host}", [f"status.loadBalancer.ingress: {host}"])
    said = events_of(f, "Service", PROXY_SERVICE)
    evidence = ["status.loadBalancer.ingress: <pending>"] + ([f"event: {line}" for line in said] or ["events: none"])
    text = " ".join(said).lower()
    if "quota" in text:
        why, remedy = "the subscription has no public IP left", fix("public-ip-quota")
    elif "authorization" in text or "forbidden" in text:
        why, remedy = ("the cluster's identity may not manage the load balancer (a role on the subnet)",
                       fix("provision-only", only=only("role-assignments")) if f.config.target == "azure"
                       else fix("describe-service", namespace=ns, service=PROXY_SERVICE))
    elif not said:
        why = "nothing answered: the cluster may have no load-balancer controller"
        remedy = fix("describe-service", namespace=ns, service=PROXY_SERVICE)
    else:
        why, remedy = "the load balancer is not provisioned", fix("describe-service", namespace=ns, service=PROXY_SERVICE)
    return fail(f"{PROXY_SERVICE} has no external address: {why}", evidence, remedy)


@check("JH322", "the user's pods run and mount their own conversation folder", per_user=True)
def user_pods(f: Facts) -> Outcome:
    from ..spawner.naming import conversation_subpath

    assert f.user is not None
    mine = [p for p in pods(f) if (p["metadata"].get("annotations") or {}).get(USER_ANNOTATION) == f.user
            and (f.conversation is None or p["metadata"]["annotations"].get(SERVER_ANNOTATION) == f.conversation)]
    who = f"{f.user}/{f.conversation}" if f.conversation else f.user
    if not mine:
        return fail(f"no pod of {who} in namespace {namespace(f)}", [f"pods with annotation {USER_ANNOTATION}={f.user}: 0"],
                    fix("start-server", user=f.user, conversation=f.conversation) if f.conversation else fix("servers"))
    claim = f.config.kubernetes.existing_claim or f.config.storage.pvc_name
    where = f.config.servers.mount_path
    evidence, wrong = [], []
    for pod in mine:
        server = (pod["metadata"].get("annotations") or {}).get(SERVER_ANNOTATION, "")
        spec = pod.get("spec") or {}
        volumes = {v.get("name"): ((v.get("persistentVolumeClaim") or {}).get("claimName")) for v in spec.get("volumes") or []}
        notebook = (spec.get("containers") or [{}])[0]
        mounts = [m for m in notebook.get("volumeMounts") or [] if volumes.get(m.get("name")) == claim]
        phase = (pod.get("status") or {}).get("phase")
        seen = "; ".join(f"claim {claim} subPath {m.get('subPath') or '(volume root)'} at {m.get('mountPath')}"
                         for m in mounts) or f"no mount of claim {claim}"
        evidence.append(f"pod {pod['metadata']['name']}: {phase}; {seen}")
        want = conversation_subpath(f.user, server) if server else None
        if [(m.get("subPath"), m.get("mountPath")) for m in mounts] != [(want, where)]:
            wrong.append((pod, server, want))
    if wrong:
        pod, server, want = wrong[0]
        return fail(f"pod {pod['metadata']['name']} does not mount exactly {claim}:{want} at {where}", evidence,
                    fix("restart-server", user=f.user, conversation=server or f.conversation or ""))
    return ok(f"{len(mine)} pod{'s' if len(mine) > 1 else ''} of {who}, each with its own conversation folder", evidence)
