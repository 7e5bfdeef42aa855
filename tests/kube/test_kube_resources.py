"""The adapter's generic verbs (paginated list, apply, pod logs) and the waits, against the fake API server
and its simulated controllers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from jhubctl.errors import ExitCode, JhubctlError, TimeoutExceeded
from jhubctl.kube import KubeClient, KubeError
from jhubctl.kube.client import drift
from jhubctl.kube.wait import address, claim_bound, explain_claim, explain_deployment, explain_service, rolled_out, until
from tests.fakes.kube import FakeKube

NS = "jhub"


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeClient]:
    with KubeClient.from_kubeconfig(kubeconfig, context="fake") as client:
        yield client


def _secret(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
            "type": "Opaque", "data": {"k": "dg=="}}


def _deployment(name: str, image: str = "hub:1") -> dict[str, Any]:
    labels = {"app": "jupyterhub", "component": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}}}}


def test_list_pages_through_continue_tokens_and_filters_by_label(fake_kube: FakeKube, kube: KubeClient) -> None:
    for i in range(7):
        fake_kube.seed(_secret(f"s{i}", {"tier": "odd" if i % 2 else "even"}))
    names = [s["metadata"]["name"] for s in kube.list_objects("Secret", NS, page_size=3)]
    assert names == [f"s{i}" for i in range(7)]
    pages = [r for r in fake_kube.requests if r.verb == "list"]
    assert [r.query.get("limit") for r in pages] == ["3", "3", "3"]
    assert "continue" not in pages[0].query and all(r.query.get("continue") for r in pages[1:])
    odd = [s["metadata"]["name"] for s in kube.list_objects("Secret", NS, labels="tier=odd")]
    assert odd == ["s1", "s3", "s5"]


def test_apply_creates_then_changes_only_what_it_names_then_writes_nothing(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    first = kube.apply(_secret("s", {"a": "1"}))
    assert first.action == "created"
    fake_kube.store.patch(fake_kube.registry.find("secrets"), NS, "s",
                          {"metadata": {"annotations": {"someone-else": "x"}}}, "application/merge-patch+json")
    before = len(fake_kube.writes())
    assert kube.apply(_secret("s", {"a": "1"})).action == "unchanged"
    assert len(fake_kube.writes()) == before  # another tool's annotation is not drift
    changed = kube.apply(_secret("s", {"a": "2"}))
    assert (changed.action, changed.fields) == ("updated", ("metadata.labels.a",))
    live = fake_kube.get_object("secrets", "s", NS)
    assert live is not None and live["metadata"]["labels"] == {"a": "2"}
    assert live["metadata"]["annotations"] == {"someone-else": "x"}
    assert fake_kube.requests[-1].content_type == "application/merge-patch+json"


def test_apply_of_an_immutable_change_says_what_to_do(fake_kube: FakeKube, kube: KubeClient) -> None:
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "nfs"},
          "provisioner": "blob.csi.azure.com", "parameters": {"protocol": "nfs"}}
    kube.apply(sc)
    with pytest.raises(KubeError) as exc:
        kube.apply({**sc, "parameters": {"protocol": "fuse"}})
    assert exc.value.status == 422 and exc.value.hint and "parameters.protocol" in exc.value.hint
    assert "cannot change" in exc.value.hint


def test_drift_compares_only_wanted_keys_and_lists_exactly() -> None:
    assert drift({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}) == []
    assert drift({"a": ["x", "y"]}, {"a": ["y", "x"]}) == ["a"]
    assert drift({"a": "X"}, {"a": "x"}) == ["a"]  # Kubernetes is case-sensitive, unlike ARM
    assert drift({"a": {"b": 1}}, {}) == ["a"]


def test_pod_log_current_previous_and_tail(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hub-1", "namespace": NS},
                    "spec": {"containers": [{"name": "hub", "image": "x"}]}})
    fake_kube.set_pod_log(NS, "hub-1", "a\nb\nc\n")
    fake_kube.set_pod_log(NS, "hub-1", "boom\nTraceback\nImportError: no module\n", previous=True)
    assert kube.log("hub-1", NS) == "a\nb\nc\n"
    assert kube.log("hub-1", NS, previous=True, tail=1) == "ImportError: no module\n"
    assert fake_kube.requests[-1].query == {"previous": "true", "tailLines": "1"}
    fake_kube.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fresh", "namespace": NS},
                    "spec": {"containers": [{"name": "hub", "image": "x"}]}})
    with pytest.raises(KubeError) as exc:
        kube.log("fresh", NS, previous=True)
    assert exc.value.status == 400 and 'previous terminated container "hub"' in exc.value.api_message


# -- the fake's controllers and the waits ---------------------------------------------------------------
def test_a_rollout_is_waited_for_and_a_new_image_rolls_out_again(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.create("Deployment", _deployment("hub"), NS)
    assert rolled_out(kube, NS, "hub") is None  # the controller has not seen it settle yet
    done = until("hub", lambda: rolled_out(kube, NS, "hub"), timeout=5, interval=0.01)
    assert done["status"]["observedGeneration"] == 1
    kube.patch("Deployment", "hub", {"spec": {"template": {"spec": {"containers": [{"name": "hub", "image": "hub:2"}]}}}}, NS)
    assert rolled_out(kube, NS, "hub") is None  # generation 2 not observed yet
    again = until("hub", lambda: rolled_out(kube, NS, "hub"), timeout=5, interval=0.01)
    assert (again["metadata"]["generation"], again["status"]["observedGeneration"]) == (2, 2)


def test_a_stuck_rollout_times_out_naming_the_pods_reason_events_and_last_log(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.controllers.stuck["hub"] = ("CrashLoopBackOff", "back-off 5m0s restarting failed container=hub")
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.create("Deployment", _deployment("hub"), NS)
    fake_kube.set_pod_log(NS, "hub-5d4f8c7b9-x2k7q", "ModuleNotFoundError: No module named 'jhubctl'\n", previous=True)
    progress: list[str] = []
    with pytest.raises(TimeoutExceeded) as exc:
        until("Deployment jhub/hub to roll out", lambda: rolled_out(kube, NS, "hub"), timeout=0.3, interval=0.05,
              explain=lambda: explain_deployment(kube, NS, "hub"), on_wait=progress.append)
    message = exc.value.message
    assert exc.value.exit_code == ExitCode.TIMEOUT
    assert message.startswith("timed out after 0.3 s waiting for Deployment jhub/hub to roll out: ")
    assert "CrashLoopBackOff: back-off 5m0s" in message
    assert "ModuleNotFoundError: No module named 'jhubctl'" in message
    assert progress and progress[0].startswith("waiting for Deployment jhub/hub to roll out")


def test_progress_deadline_exceeded_fails_at_once(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.controllers.rollout = False
    deployment = _deployment("proxy")
    deployment["status"] = {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                            "message": 'ReplicaSet "proxy-1" has timed out progressing.'}]}
    fake_kube.seed(deployment)
    with pytest.raises(JhubctlError) as exc:
        rolled_out(kube, NS, "proxy")
    assert "stopped progressing: ReplicaSet \"proxy-1\" has timed out progressing." in exc.value.message


def test_a_load_balancer_address_arrives_or_its_event_is_shown(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "proxy-public", "namespace": NS},
           "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]}}
    kube.create("Service", svc, NS)
    got = until("address", lambda: address(kube.get("Service", "proxy-public", NS) or {}), timeout=5, interval=0.01)
    assert got == "127.0.0.1"
    fake_kube.controllers.load_balancer_ip = None
    kube.create("Service", {**svc, "metadata": {"name": "other", "namespace": NS}}, NS)
    with pytest.raises(TimeoutExceeded) as exc:
        until("Service jhub/other to get an external address",
              lambda: address(kube.get("Service", "other", NS) or {}), timeout=0.2, interval=0.05,
              explain=lambda: explain_service(kube, NS, "other"))
    assert "EXTERNAL-IP is still <pending>; SyncLoadBalancerFailed: Error syncing load balancer" in exc.value.message


def _pv(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "3Gi"}, "accessModes": ["ReadWriteMany"], "storageClassName": "nfs",
                     "csi": {"driver": "blob.csi.azure.com", "volumeHandle": name}, **spec}}


def _pvc(name: str, volume: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs", "volumeName": volume,
                     "resources": {"requests": {"storage": "3Gi"}}, **spec}}


def test_claims_bind_to_their_volume_or_stay_pending_with_the_reason(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.create("PersistentVolume", _pv("good"))
    kube.create("PersistentVolumeClaim", _pvc("c1", "good"), NS)
    bound = until("c1", lambda: claim_bound(kube, NS, "c1"), timeout=5, interval=0.01)
    assert bound["status"] == {"phase": "Bound", "accessModes": ["ReadWriteMany"], "capacity": {"storage": "3Gi"}}
    volume = fake_kube.get_object("persistentvolumes", "good")
    assert volume is not None and volume["status"]["phase"] == "Bound"
    assert volume["spec"]["claimRef"]["name"] == "c1"

    kube.create("PersistentVolume", _pv("small", capacity={"storage": "1Gi"}))
    kube.create("PersistentVolumeClaim", _pvc("c2", "small"), NS)
    kube.create("PersistentVolumeClaim", _pvc("c3", "missing"), NS)
    for name in ("c2", "c3"):
        with pytest.raises(TimeoutExceeded):
            until(name, lambda: claim_bound(kube, NS, name), timeout=0.15, interval=0.05)
    assert explain_claim(kube, NS, "c2") == (
        'the claim is Pending; VolumeMismatch: Cannot bind to requested volume "small": requested PV is too small'
    )
    assert explain_claim(kube, NS, "c3") == "the claim is Pending; it names volume missing, which does not exist"


def test_controller_status_changes_are_not_requests(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.create("Deployment", _deployment("hub"), NS)
    until("hub", lambda: rolled_out(kube, NS, "hub"), timeout=5, interval=0.01)
    assert [(r.verb, r.target) for r in fake_kube.writes()] == [("create", "deployments")]
