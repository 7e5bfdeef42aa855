"""A deployment for diagnose to look at: a fake cluster holding what the chart, apply-storage and KubeSpawner
make (healthy unless a test breaks it), the fake registry with the images, the helm stub knowing the release,
and an operator folder whose config points at all of them. The bench builds the same world, bigger.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jhubctl.config import Loaded, load_config
from jhubctl.diagnose.finding import Finding, Report
from jhubctl.diagnose.runner import run
from jhubctl.state import Journal, Record
from tests.fakes.hub import FakeHub
from tests.fakes.kube import FakeKube
from tests.fakes.registry import FakeRegistry
from tests.fakes.tools.fixtures import Tools, make_tools

NAMESPACE, RELEASE = "jhub", "jhub"
TOKEN = "4d1f0c9e7d5b3a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a71"
HUB_TAG = "3.1.0-0123456789ab"
HUB_POD = "hub-5d4f8c7b9-x2k7q"
CULLER = ("['python3', '-m', 'jupyterhub_idle_culler', '--url=http://localhost:8081/hub/api', '--timeout=3600', "
          "'--cull-every=600', '--concurrency=10', '--max-age=0', '--remove-named-servers', '--api-page-size=200']")


def hub_log(*services: tuple[str, str], exits: tuple[str, ...] = ()) -> str:
    """The start of a chart hub's log: the version line, then each managed service it started."""
    lines = ["[I 2024-05-01 10:00:00.101 JupyterHub app:2859] Running JupyterHub version 4.0.2",
             "[I 2024-05-01 10:00:01.500 JupyterHub app:3189] Starting managed service jupyterhub-idle-culler"]
    lines += [f"[I 2024-05-01 10:00:02.000 JupyterHub service:385] Starting service '{name}': {command}"
              for name, command in services]
    lines += [f"[E 2024-05-01 10:00:03.000 JupyterHub service:428] Service {name} exited with status 1" for name in exits]
    lines.append("[I 2024-05-01 10:00:04.000 JupyterHub app:3347] JupyterHub is now running at http://:8000")
    return "\n".join(lines) + "\n"
CHART_LABELS = {"app": "jupyterhub", "release": RELEASE}


def node(name: str, arch: str = "amd64", ready: bool = True) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady" if ready else
                 "KubeletNotReady", "message": "kubelet is posting ready status" if ready else
                 "container runtime network not ready: NetworkReady=false"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/arch": arch}},
            "status": {"conditions": [condition], "nodeInfo": {"architecture": arch, "operatingSystem": "linux"}}}


def running(name: str, image: str, restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "image": image, "ready": True, "restartCount": restarts, "started": True,
            "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}}}


def waiting(name: str, image: str, reason: str, message: str = "", restarts: int = 0,
            exit_code: int | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "image": image, "ready": False, "restartCount": restarts,
                              "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}}}
    if exit_code is not None:
        status["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return status


def pod(name: str, *statuses: dict[str, Any], labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None, phase: str = "Running", namespace: str = NAMESPACE,
        created: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {}),
                            "annotations": dict(annotations or {})}
    if created:
        meta["creationTimestamp"] = created
    ready = phase == "Running" and all(s.get("ready") for s in statuses)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": s["name"], "image": s["image"]} for s in statuses]},
            "status": {"phase": phase, "containerStatuses": list(statuses),
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def user_pod(user: str, conversation: str, image: str, *statuses: dict[str, Any], phase: str = "Running",
             created: str | None = None) -> dict[str, Any]:
    escaped = {"user": user.replace("-", "-2d"), "conversation": conversation.replace("-", "-2d")}
    made = pod(f"jupyter-{escaped['user']}--{escaped['conversation']}",
               *(statuses or (running("notebook", image),)),
               labels={"app": "jupyterhub", "component": "singleuser-server", "release": RELEASE,
                       "hub.jupyter.org/username": escaped["user"], "hub.jupyter.org/servername": escaped["conversation"]},
               annotations={"hub.jupyter.org/username": user, "hub.jupyter.org/servername": conversation},
               phase=phase, created=created)
    made["spec"]["volumes"] = [{"name": "conversation-data", "persistentVolumeClaim": {"claimName": "azure-blob-nfs-pvc"}}]
    made["spec"]["containers"][0]["volumeMounts"] = [{"name": "conversation-data", "mountPath": "/home/jovyan/work",
                                                      "subPath": f"{user}/conversations/{conversation}"}]
    if phase == "Pending" and not statuses:  # not scheduled: no container has a status yet
        made["status"]["containerStatuses"] = []
        made["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    return made


def service(name: str, selector: dict[str, str] | None, kind: str = "ClusterIP", ip: str | None = None,
            port: int = 80) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
                            "spec": {"type": kind, "ports": [{"name": "http", "port": port}]}}
    if selector is not None:
        body["spec"]["selector"] = selector
    if ip:
        body["status"] = {"loadBalancer": {"ingress": [{"ip": ip}]}}
    return body


def endpoints(name: str, ready: list[str], not_ready: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    subset: dict[str, Any] = {"ports": [{"port": 8081}]}
    if ready:
        subset["addresses"] = [{"ip": f"10.244.0.{i + 10}", "targetRef": {"kind": "Pod", "name": p}}
                               for i, p in enumerate(ready)]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": f"10.244.1.{i + 10}", "targetRef": {"kind": "Pod", "name": p}}
                                       for i, p in enumerate(not_ready)]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": NAMESPACE},
            "subsets": [subset] if ready or not_ready else []}


def deployment(name: str, image: str) -> dict[str, Any]:
    labels = {**CHART_LABELS, "component": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}}


def event(kind: str, name: str, reason: str, message: str, type_: str = "Warning", n: int = 0) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{reason.lower()}{n}", "namespace": NAMESPACE},
            "involvedObject": {"kind": kind, "name": name, "namespace": NAMESPACE}, "reason": reason,
            "message": message, "type": type_, "count": 1, "lastTimestamp": "2024-05-01T10:00:00Z"}


@dataclass
class World:
    root: Path
    kube: FakeKube
    registry: FakeRegistry
    tools: Tools
    config: dict[str, Any]
    hub: FakeHub | None = None
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def hub_image(self) -> str:
        return f"{self.registry.host}/k8s-hub:{HUB_TAG}"

    @property
    def user_image(self) -> str:
        return f"{self.registry.host}/singleuser:3.1.0"

    @property
    def state_dir(self) -> Path:
        return self.root / ".jhubctl"

    def write_config(self, changes: dict[str, Any] | None = None) -> None:
        def merge(base: dict[str, Any], more: dict[str, Any]) -> None:
            for key, value in more.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict):
                    merge(base[key], value)
                elif value is None:
                    base.pop(key, None)
                else:
                    base[key] = copy.deepcopy(value)

        merge(self.config, changes or {})
        (self.root / "jhubctl.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))

    def loaded(self) -> Loaded:
        return load_config(self.root / "jhubctl.yaml", environ={**os.environ, "JHUBCTL_API_TOKEN": TOKEN,
                                                                  **self.environ})

    def diagnose(self, *areas: str, user: str | None = None, conversation: str | None = None) -> Report:
        return run(self.loaded(), areas=areas or ("cluster",), user=user, conversation=conversation)

    def journal(self, step: str, **outputs: Any) -> None:
        Journal(self.state_dir).record(step, Record("succeeded", "2024-05-01T10:00:00+00:00",
                                                    "2024-05-01T10:01:00+00:00", None, outputs))

    def set_release(self, **changes: Any) -> None:
        current = {"name": RELEASE, "namespace": NAMESPACE, "revision": 2, "status": "deployed",
                   "chart": "jupyterhub-3.1.0", **changes}
        self.tools.helm.set(releases={f"{NAMESPACE}/{RELEASE}": current})


def add_hub(world: World, hub: FakeHub, users: int = 3) -> None:
    """The hub the world's proxy-public leads to: its users (one ready server each) and its log."""
    world.hub = hub
    for i in range(users):
        hub.add_user(f"user{i}", {f"c{i}": {"ready": True}})
    world.journal("deploy-hub", release=RELEASE, namespace=NAMESPACE, revision=2, chart_version="3.1.0",
                  image=world.hub_image, url=hub.url)
    world.kube.set_pod_log(NAMESPACE, HUB_POD, hub_log(("jupyterhub-idle-culler", CULLER)), "hub")


def findings(report: Report, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]


def one(report: Report, code: str) -> Finding:
    found = findings(report, code)
    assert len(found) == 1, f"{code}: {found}"
    return found[0]


def build(root: Path, kube: FakeKube, registry: FakeRegistry, users: int = 3, arch: str = "amd64") -> World:
    """The healthy deployment: two nodes, the chart's objects, the shared claim, ``users`` user pods."""
    root.mkdir(parents=True, exist_ok=True)
    tools = make_tools(root / "tools")
    world = World(root, kube, registry, tools, {
        "target": "kubernetes",
        "name": "demo",
        "registry": {"server": registry.host, "singleuser_image": f"{registry.host}/singleuser:3.1.0"},
        "storage": {"account_name": "jhubstore1"},
        "kubernetes": {"kubeconfig": str(kube.write_kubeconfig(root / "kubeconfig", "fake")), "context": "fake",
                       "namespace": NAMESPACE},
        "tools": {"helm": str(tools.helm.path)},
    })
    world.write_config()
    registry.anonymous_pull = True
    registry.push_index("k8s-hub", HUB_TAG, ("linux/amd64", "linux/arm64"))
    registry.push_index("singleuser", "3.1.0", ("linux/amd64", "linux/arm64"))
    for i in range(2):
        kube.seed(node(f"aks-nodepool1-{i}", arch))
    from tests.fakes.kube.objects import aks_blob_csidriver

    kube.seed(aks_blob_csidriver(fsGroupPolicy="File"))
    kube.seed({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "azure-blob-nfs"},
               "provisioner": "blob.csi.azure.com", "parameters": {"protocol": "nfs"}})
    kube.seed({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "azure-blob-nfs-pv"},
               "spec": {"capacity": {"storage": "1Pi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "azure-blob-nfs",
                        "csi": {"driver": "blob.csi.azure.com", "volumeHandle": "jhub-rg#jhubstore1#users"},
                        "claimRef": {"namespace": NAMESPACE, "name": "azure-blob-nfs-pvc"}},
               "status": {"phase": "Bound"}})
    kube.seed({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "azure-blob-nfs-pvc", "namespace": NAMESPACE},
               "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "azure-blob-nfs",
                        "volumeName": "azure-blob-nfs-pv", "resources": {"requests": {"storage": "3Gi"}}},
               "status": {"phase": "Bound"}})
    hub_image = world.hub_image
    kube.seed(deployment("hub", hub_image))
    kube.seed(deployment("proxy", "jupyterhub/configurable-http-proxy:4.5.6"))
    kube.seed(pod(HUB_POD, running("hub", hub_image), labels={**CHART_LABELS, "component": "hub"}))
    kube.seed(pod("proxy-7c9d6b5f4-q8w2e", running("chp", "jupyterhub/configurable-http-proxy:4.5.6"),
                  labels={**CHART_LABELS, "component": "proxy"}))
    for name, selector in (("hub", "hub"), ("proxy-api", "proxy")):
        kube.seed(service(name, {"component": selector, "release": RELEASE}))
    kube.seed(service("proxy-public", {"component": "proxy", "release": RELEASE}, "LoadBalancer", "20.81.4.7"))
    kube.seed(endpoints("hub", ["hub-5d4f8c7b9-x2k7q"]))
    kube.seed(endpoints("proxy-api", ["proxy-7c9d6b5f4-q8w2e"]))
    kube.seed(endpoints("proxy-public", ["proxy-7c9d6b5f4-q8w2e"]))
    add_users(world, users)
    world.set_release()
    world.journal("deploy-hub", release=RELEASE, namespace=NAMESPACE, revision=2, chart_version="3.1.0",
                  image=hub_image, url="http://20.81.4.7")
    world.journal("build-hub-image", image=hub_image, base="jupyterhub/k8s-hub:3.1.0", platform="linux/amd64")
    return world


def add_users(world: World, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", world.user_image))
