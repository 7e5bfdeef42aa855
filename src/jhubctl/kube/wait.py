"""Waiting for the cluster: a claim Bound, a rollout finished, a load balancer's address, and why not.

Every wait polls with a deadline, reports what it is waiting for while it waits, and when it gives up
says what it was waiting for and what the cluster says about it (the object's events, a pod's waiting
reason and its log), because "timed out" alone sends the operator to kubectl.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import JhubctlError, TimeoutExceeded
from .client import KubeClient

T = TypeVar("T")
#: Seconds between polls.
INTERVAL = 2.0
#: Events and log lines shown when a wait gives up.
SHOWN_EVENTS = 3
LOG_LINES = 10


def until(
    what: str,
    poll: Callable[[], T | None],
    *,
    timeout: float,
    explain: Callable[[], str] | None = None,
    on_wait: Callable[[str], None] | None = None,
    interval: float = INTERVAL,
) -> T:
    """``poll()`` until it answers something; past ``timeout`` raise TimeoutExceeded naming ``what`` and why."""
    deadline = time.monotonic() + timeout
    began = time.monotonic()
    while True:
        answer = poll()
        if answer is not None:
            return answer
        if time.monotonic() >= deadline:
            why = explain() if explain is not None else ""
            raise TimeoutExceeded(
                f"timed out after {timeout:g} s waiting for {what}" + (f": {why}" if why else ""),
                hint="raise kubernetes.wait_timeout (or --timeout) if it is only slow",
            )
        if on_wait is not None:
            on_wait(f"waiting for {what} ({time.monotonic() - began:.0f} s)")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def events(kube: KubeClient, namespace: str, kind: str, name: str) -> list[str]:
    """The object's events, newest last, as ``Reason: message``."""
    found = kube.list_objects(
        "Event", namespace, fields=f"involvedObject.kind={kind},involvedObject.name={name}"
    )
    ordered = sorted(found, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return [f"{e.get('reason')}: {' '.join(str(e.get('message', '')).split())}" for e in ordered][-SHOWN_EVENTS:]


def _said(lines: list[str], fallback: str) -> str:
    return "; ".join(lines) if lines else fallback


# -- claims -------------------------------------------------------------------------------------------
def claim_bound(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    claim = kube.get("PersistentVolumeClaim", name, namespace)
    if claim is None:
        raise JhubctlError(f"PersistentVolumeClaim {namespace}/{name} does not exist")
    return claim if (claim.get("status") or {}).get("phase") == "Bound" else None


def explain_claim(kube: KubeClient, namespace: str, name: str) -> str:
    claim = kube.get("PersistentVolumeClaim", name, namespace) or {}
    phase = (claim.get("status") or {}).get("phase", "Pending")
    said = events(kube, namespace, "PersistentVolumeClaim", name)
    volume = (claim.get("spec") or {}).get("volumeName")
    if not said and volume and kube.get("PersistentVolume", volume) is None:
        said = [f"it names volume {volume}, which does not exist"]
    return f"the claim is {phase}; " + _said(said, "the cluster recorded no event about it")


# -- deployments -------------------------------------------------------------------------------------
def rolled_out(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment once its current spec runs everywhere (what `kubectl rollout status` waits for)."""
    deployment = kube.get("Deployment", name, namespace)
    if deployment is None:
        return None
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise JhubctlError(
                f"Deployment {namespace}/{name} stopped progressing: {condition.get('message')}; "
                + explain_deployment(kube, namespace, name)
            )
    replicas = int(spec.get("replicas", 1))
    done = (
        int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
        and int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
    )
    return deployment if done else None


def explain_deployment(kube: KubeClient, namespace: str, name: str) -> str:
    """What its pods are waiting for, their events and the last log lines of a crashing container."""
    deployment = kube.get("Deployment", name, namespace)
    if deployment is None:
        return f"Deployment {namespace}/{name} does not exist (did helm create it?)"
    selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    notes: list[str] = []
    for pod in kube.list_objects("Pod", namespace, labels=labels or None):
        pod_name = pod["metadata"]["name"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting:
                notes.append(f"pod {pod_name} container {status.get('name')}: {waiting.get('reason')}: "
                             f"{' '.join(str(waiting.get('message', '')).split())}")
            if int(status.get("restartCount") or 0) > 0:
                log = kube.log(pod_name, namespace, container=status.get("name"), previous=True, tail=LOG_LINES)
                if log.strip():
                    notes.append(f"its last run ended with: {' | '.join(log.strip().splitlines())}")
        notes += [f"pod {pod_name}: {line}" for line in events(kube, namespace, "Pod", pod_name)]
    if not notes:
        notes = events(kube, namespace, "Deployment", name)
    return _said(notes, "no pod of it reports a problem yet")


# -- load balancers ----------------------------------------------------------------------------------
def address(service: dict[str, Any]) -> str | None:
    """The external IP (or host name, on clouds that give one) of a LoadBalancer Service."""
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        found = ingress.get("ip") or ingress.get("hostname")
        if found:
            return str(found)
    return None


def explain_service(kube: KubeClient, namespace: str, name: str) -> str:
    return "EXTERNAL-IP is still <pending>; " + _said(
        events(kube, namespace, "Service", name), "the cluster recorded no event (does it have a load-balancer controller?)"
    )
