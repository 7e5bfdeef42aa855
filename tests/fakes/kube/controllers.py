"""What a cluster's controllers do to objects after they are written, so waits have something to wait for.

A real API server only stores objects; the persistent-volume controller binds claims, the deployment
controller rolls pods out, and the cloud controller gives ``LoadBalancer`` Services an address. jhubctl
waits for exactly these status changes, so the fake plays those controllers (:class:`Controllers`),
on every request, after an object has stayed unchanged for ``settle`` requests:

* **claims**: a Pending PVC naming a ``volumeName`` binds when that PV exists and matches (storage class,
  access modes, capacity, claimRef); both get ``status.phase: Bound``. A mismatch leaves it Pending with
  the ``VolumeMismatch`` Warning event the real controller records; a missing PV leaves it Pending with
  no event (the real controller only logs). A PVC without ``volumeName`` is left to a provisioner the
  fake does not have (``ExternalProvisioning`` event).
* **deployments**: ``status`` follows the spec (``observedGeneration``, replica counts, the
  ``Available``/``Progressing`` conditions), unless the deployment is listed in :attr:`stuck`: then it
  gets a Pending pod whose container waits with the given reason, a Warning event on that pod, and
  ``Available: False``.
* **load balancers**: a ``LoadBalancer`` Service gets ``status.loadBalancer.ingress: [{ip}]`` of
  :attr:`load_balancer_ip`, or, when that is ``None``, stays pending with the Warning event of
  :attr:`load_balancer_event`.

Status writes by controllers are not requests: they never show up in ``FakeKube.requests`` (and so never
count as writes of the code under test), but they do bump ``resourceVersion``.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import ObjectStore

_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def quantity(text: Any) -> float:
    """A storage quantity (``3Gi``, ``1Pi``, ``500M``) in bytes."""
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text or "0"))
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Controllers:
    """Knobs of the simulated controllers; change them on ``FakeKube.controllers`` at any time."""

    #: Requests an object must stay unchanged before a controller acts on it (0: at once).
    settle: int = 1
    bind_claims: bool = True
    rollout: bool = True
    #: Deployment name -> (waiting reason, message) of its pod, e.g. ``("ImagePullBackOff", "...")``.
    stuck: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The external address given to LoadBalancer Services; ``None``: they stay pending.
    load_balancer_ip: str | None = "127.0.0.1"
    #: (reason, message) of the Warning event on a Service whose address stays pending.
    load_balancer_event: tuple[str, str] = (
        "SyncLoadBalancerFailed",
        "Error syncing load balancer: failed to ensure load balancer: no public IP address quota left",
    )
    _seen: dict[tuple[str, str, str, str], tuple[str, int]] = field(default_factory=dict, repr=False)

    def tick(self, store: ObjectStore) -> None:
        """One round of every controller; the caller holds ``store.lock``."""
        for key, obj in list(store._objects.items()):
            rv = str(obj["metadata"].get("resourceVersion"))
            last_rv, count = self._seen.get(key, ("", 0))
            count = count + 1 if last_rv == rv else 0
            self._seen[key] = (rv, count)
            if count < self.settle:
                continue
            group, plural = key[0], key[1]
            if (group, plural) == ("", "persistentvolumeclaims") and self.bind_claims:
                self._claim(store, obj)
            elif (group, plural) == ("apps", "deployments") and self.rollout:
                self._deployment(store, obj)
            elif (group, plural) == ("", "services"):
                self._service(store, obj)

    # -- the persistent-volume controller ---------------------------------------------------------
    def _claim(self, store: ObjectStore, claim: dict[str, Any]) -> None:
        if (claim.get("status") or {}).get("phase") == "Bound":
            return
        spec, meta = claim.get("spec") or {}, claim["metadata"]
        volume_name = spec.get("volumeName")
        if not volume_name:
            self._event(store, claim, "Normal", "ExternalProvisioning",
                        f'Waiting for a volume to be created either by the external provisioner '
                        f'"{spec.get("storageClassName")}" or manually by the system administrator.')
            return
        pv_type = store.registry.find("persistentvolumes")
        volume = store._objects.get(store._key(pv_type, None, volume_name))
        if volume is None:
            return  # the real controller logs "volume not found, will try again next time", no event
        problem = self._mismatch(volume, claim)
        if problem:
            self._event(store, claim, "Warning", "VolumeMismatch", f'Cannot bind to requested volume "{volume_name}": {problem}')
            return
        pv_spec = volume.setdefault("spec", {})
        pv_spec["claimRef"] = {**(pv_spec.get("claimRef") or {}), "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                               "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}
        volume["status"] = {"phase": "Bound"}
        volume["metadata"]["resourceVersion"] = store._next_rv()
        meta.setdefault("annotations", {}).update({"pv.kubernetes.io/bind-completed": "yes"})
        claim["status"] = {"phase": "Bound", "accessModes": list(pv_spec.get("accessModes") or []),
                           "capacity": dict(pv_spec.get("capacity") or {})}
        meta["resourceVersion"] = store._next_rv()

    @staticmethod
    def _mismatch(volume: dict[str, Any], claim: dict[str, Any]) -> str | None:
        pv, pvc = volume.get("spec") or {}, claim.get("spec") or {}
        ref = pv.get("claimRef") or {}
        meta = claim["metadata"]
        if ref and (ref.get("namespace"), ref.get("name")) != (meta["namespace"], meta["name"]):
            return "volume already bound to a different claim."
        if (pv.get("storageClassName") or "") != (pvc.get("storageClassName") or ""):
            return "storageClassName does not match"
        if not set(pvc.get("accessModes") or []) <= set(pv.get("accessModes") or []):
            return "incompatible accessMode"
        wanted = ((pvc.get("resources") or {}).get("requests") or {}).get("storage")
        if quantity((pv.get("capacity") or {}).get("storage")) < quantity(wanted):
            return "requested PV is too small"
        return None

    # -- the deployment controller ----------------------------------------------------------------
    def _deployment(self, store: ObjectStore, deployment: dict[str, Any]) -> None:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        generation = meta.get("generation", 1)
        stuck = self.stuck.get(meta["name"])
        if stuck is None:
            status = {
                "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                     "message": f'ReplicaSet "{meta["name"]}-5d4f8c7b9" has successfully progressed.'},
                ],
            }
        else:
            status = {
                "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "unavailableReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                     "message": "Deployment does not have minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                     "message": f'ReplicaSet "{meta["name"]}-5d4f8c7b9" is progressing.'},
                ],
            }
            self._stuck_pod(store, deployment, *stuck)
        if deployment.get("status") != status:
            deployment["status"] = status
            meta["resourceVersion"] = store._next_rv()

    def _stuck_pod(self, store: ObjectStore, deployment: dict[str, Any], reason: str, message: str) -> None:
        meta, template = deployment["metadata"], (deployment.get("spec") or {}).get("template") or {}
        name = f"{meta['name']}-5d4f8c7b9-x2k7q"
        pod_type = store.registry.find("pods")
        key = store._key(pod_type, meta["namespace"], name)
        if key in store._objects:
            return
        containers = (template.get("spec") or {}).get("containers") or [{"name": meta["name"], "image": "unknown"}]
        store.seed({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "labels": copy.deepcopy((template.get("metadata") or {}).get("labels") or {})},
            "spec": copy.deepcopy(template.get("spec") or {"containers": containers}),
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {"name": c.get("name"), "image": c.get("image"), "ready": False,
                     "restartCount": 3 if reason == "CrashLoopBackOff" else 0,
                     "state": {"waiting": {"reason": reason, "message": message}}}
                    for c in containers
                ],
            },
        })
        self._event(store, store._objects[key], "Warning", reason if reason != "ImagePullBackOff" else "Failed", message)

    # -- the cloud controller (load balancers) -----------------------------------------------------
    def _service(self, store: ObjectStore, service: dict[str, Any]) -> None:
        if (service.get("spec") or {}).get("type") != "LoadBalancer":
            return
        if ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        if self.load_balancer_ip is None:
            self._event(store, service, "Warning", *self.load_balancer_event)
            return
        service["status"] = {"loadBalancer": {"ingress": [{"ip": self.load_balancer_ip}]}}
        service["metadata"]["resourceVersion"] = store._next_rv()

    # -- events -------------------------------------------------------------------------------------
    @staticmethod
    def _event(store: ObjectStore, obj: dict[str, Any], kind: str, reason: str, message: str) -> None:
        """Record (or count again) an event about ``obj``, as ``kubectl describe`` shows them."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        for existing in store._objects.values():
            involved = existing.get("involvedObject") or {}
            if existing.get("kind") == "Event" and involved.get("uid") == meta.get("uid") and existing.get("reason") == reason:
                existing["count"] = int(existing.get("count", 1)) + 1
                existing["lastTimestamp"] = store._now()
                existing["metadata"]["resourceVersion"] = store._next_rv()
                return
        now = store._now()
        store.seed({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "name": meta["name"],
                               "namespace": namespace, "uid": meta.get("uid")},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "fake-controller"},
        })
