"""The fake Kubernetes API through the official client: the semantics jhubctl and its tests rely on."""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from tests.fakes.kube import FakeKube, FaultResponse, RequestRecord, ResourceType

CSI = "blob.csi.azure.com"


def _api(fake: FakeKube, tmp_path: Path, context: str = "fake") -> client.ApiClient:
    path = fake.write_kubeconfig(tmp_path / f"kubeconfig-{context}", context)
    return config.new_client_from_config(config_file=str(path), context=context, persist_config=False)


@pytest.fixture
def api(fake_kube: FakeKube, tmp_path: Path) -> client.ApiClient:
    return _api(fake_kube, tmp_path)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def storage(api: client.ApiClient) -> client.StorageV1Api:
    return client.StorageV1Api(api)


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def _csidriver(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": CSI}, "spec": {"attachRequired": False, **spec}}


def _pod(name: str, labels: dict[str, str] | None = None, containers: tuple[str, ...] = ("notebook",)) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
    }


# -- transport, kubeconfig, version ---------------------------------------------------------------
def test_kubeconfig_has_cluster_token_user_and_context(fake_kube: FakeKube, api: client.ApiClient) -> None:
    cfg = yaml.safe_load(fake_kube.kubeconfig_text("aks-jhub"))
    assert cfg["current-context"] == "aks-jhub"
    assert cfg["clusters"][0]["cluster"]["server"] == fake_kube.url and fake_kube.url.startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in cfg["clusters"][0]["cluster"]
    assert cfg["users"][0]["user"] == {"token": fake_kube.token}
    assert cfg["contexts"][0] == {"name": "aks-jhub", "context": {"cluster": "aks-jhub", "user": "aks-jhub-user", "namespace": "default"}}
    assert client.VersionApi(api).get_code().git_version == "v1.28.5"
    assert fake_kube.requests[-1].headers.get("Authorization") is None  # never recorded


def test_version_is_configurable_and_plain_http_works(fake_kube_factory: Callable[..., FakeKube], tmp_path: Path) -> None:
    fake = fake_kube_factory(git_version="v1.30.4", tls=False)
    assert fake.url.startswith("http://")
    info = client.VersionApi(_api(fake, tmp_path)).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.30.4", "1", "30")


def test_wrong_token_is_401_status(fake_kube: FakeKube, tmp_path: Path) -> None:
    path = fake_kube.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace(fake_kube.token, "not-the-token"))
    api = config.new_client_from_config(config_file=str(path), persist_config=False)
    with pytest.raises(ApiException) as exc:
        client.CoreV1Api(api).list_namespace()
    assert exc.value.status == 401
    assert _status(exc.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    }


# -- error Status bodies --------------------------------------------------------------------------
def test_404_not_found_status(storage: client.StorageV1Api, core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        storage.read_csi_driver(CSI)
    assert _status(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'csidrivers.storage.k8s.io "blob.csi.azure.com" not found',
        "reason": "NotFound",
        "details": {"name": CSI, "group": "storage.k8s.io", "kind": "csidrivers"},
        "code": 404,
    }
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_secret("nope", "default")
    assert _status(exc.value)["message"] == 'secrets "nope" not found'
    assert _status(exc.value)["details"] == {"name": "nope", "kind": "secrets"}  # no group for core
    with pytest.raises(ApiException) as exc:  # creating in a namespace that does not exist
        core.create_namespaced_config_map("ghost", {"metadata": {"name": "c"}})
    assert (exc.value.status, _status(exc.value)["message"]) == (404, 'namespaces "ghost" not found')


def test_409_already_exists_and_conflict(storage: client.StorageV1Api, core: client.CoreV1Api) -> None:
    storage.create_csi_driver(_csidriver())
    with pytest.raises(ApiException) as exc:
        storage.create_csi_driver(_csidriver())
    assert _status(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'csidrivers.storage.k8s.io "blob.csi.azure.com" already exists',
        "reason": "AlreadyExists",
        "details": {"name": CSI, "group": "storage.k8s.io", "kind": "csidrivers"},
        "code": 409,
    }
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    stale = cm.metadata.resource_version
    core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c", "resourceVersion": stale}, "data": {"a": "2"}})
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c", "resourceVersion": stale}, "data": {"a": "3"}})
    body = _status(exc.value)
    assert (exc.value.status, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map("c", "default").data == {"a": "2"}
    # No resourceVersion in the body = unconditional update.
    core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c"}, "data": {"a": "4"}})
    assert core.read_namespaced_config_map("c", "default").data == {"a": "4"}


def test_422_immutable_fields_with_causes(fake_kube: FakeKube, storage: client.StorageV1Api) -> None:
    created = storage.create_csi_driver(_csidriver(fsGroupPolicy="ReadWriteOnceWithFSType"))
    with pytest.raises(ApiException) as exc:
        storage.patch_csi_driver(CSI, {"spec": {"fsGroupPolicy": "File"}})
    assert _status(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'CSIDriver.storage.k8s.io "blob.csi.azure.com" is invalid: spec.fsGroupPolicy: Invalid value: "File": field is immutable',
        "reason": "Invalid",
        "details": {
            "name": CSI,
            "group": "storage.k8s.io",
            "kind": "CSIDriver",
            "causes": [{"reason": "FieldValueInvalid", "message": 'Invalid value: "File": field is immutable', "field": "spec.fsGroupPolicy"}],
        },
        "code": 422,
    }
    body = fake_kube.get_object("csidrivers", CSI)
    assert body is not None
    body["spec"].update(attachRequired=True, podInfoOnMount=True)
    with pytest.raises(ApiException) as exc:
        storage.replace_csi_driver(CSI, body)
    status = _status(exc.value)
    assert status["message"].endswith(
        "is invalid: [spec.attachRequired: Invalid value: true: field is immutable, "
        "spec.podInfoOnMount: Invalid value: true: field is immutable]"
    )
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.attachRequired", "spec.podInfoOnMount"]
    # Mutable fields change; the stored object is otherwise untouched by the refused writes.
    patched = storage.patch_csi_driver(CSI, {"spec": {"tokenRequests": [{"audience": "api://AzureADTokenExchange"}], "requiresRepublish": True}})
    assert patched.spec.requires_republish is True and patched.spec.fs_group_policy == "ReadWriteOnceWithFSType"
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    assert patched.metadata.generation == 2


def test_fsgroup_policy_mutable_from_1_29_and_configurable(fake_kube_factory: Callable[..., FakeKube], tmp_path: Path) -> None:
    new = fake_kube_factory(git_version="v1.29.2")
    storage = client.StorageV1Api(_api(new, tmp_path, "new"))
    storage.create_csi_driver(_csidriver())
    assert storage.patch_csi_driver(CSI, {"spec": {"fsGroupPolicy": "File"}}).spec.fs_group_policy == "File"
    with pytest.raises(ApiException) as exc:  # attachRequired stays immutable
        storage.patch_csi_driver(CSI, {"spec": {"attachRequired": True}})
    assert exc.value.status == 422
    custom = fake_kube_factory(immutable_fields={"csidrivers": ["spec.attachRequired"]})  # 1.28 with 1.29 rules
    storage = client.StorageV1Api(_api(custom, tmp_path, "custom"))
    storage.create_csi_driver(_csidriver())
    assert storage.patch_csi_driver(CSI, {"spec": {"fsGroupPolicy": "File"}}).spec.fs_group_policy == "File"


# -- metadata, defaults, no-op writes -------------------------------------------------------------
def test_create_assigns_server_metadata_and_defaults(fake_kube: FakeKube, storage: client.StorageV1Api, core: client.CoreV1Api) -> None:
    created = storage.create_csi_driver(_csidriver())
    meta = created.metadata
    assert re.fullmatch(r"[0-9a-f-]{36}", meta.uid)
    assert meta.resource_version.isdigit() and meta.generation == 1
    raw = fake_kube.get_object("csidrivers", CSI)
    assert raw is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw["metadata"]["creationTimestamp"])
    assert raw["spec"] == {
        "attachRequired": False,  # given
        "podInfoOnMount": False,
        "requiresRepublish": False,
        "storageCapacity": False,
        "fsGroupPolicy": "ReadWriteOnceWithFSType",
        "volumeLifecycleModes": ["Persistent"],
    }
    with pytest.raises(ApiException) as exc:  # a create must not carry a resourceVersion
        core.create_namespaced_config_map("default", {"metadata": {"name": "x", "resourceVersion": "5"}})
    assert (exc.value.status, _status(exc.value)["message"]) == (
        500, "Internal error occurred: resourceVersion should not be set on objects to be created",
    )
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    assert exc.value.status == 422 and _status(exc.value)["details"]["causes"][0]["field"] == "metadata.name"
    # A write that changes nothing keeps the resourceVersion; a label change does not bump generation.
    again = storage.patch_csi_driver(CSI, {"spec": {"attachRequired": False}})
    assert again.metadata.resource_version == meta.resource_version
    labelled = storage.patch_csi_driver(CSI, {"metadata": {"labels": {"a": "b"}}})
    assert labelled.metadata.resource_version != meta.resource_version and labelled.metadata.generation == 1
    generated = core.create_namespaced_config_map("default", {"metadata": {"generateName": "cm-"}})
    assert re.fullmatch(r"cm-[a-z0-9]{5}", generated.metadata.name)


def test_dry_run_validates_without_storing(fake_kube: FakeKube, storage: client.StorageV1Api) -> None:
    out = storage.create_csi_driver(_csidriver(), dry_run="All")
    assert out.spec.fs_group_policy == "ReadWriteOnceWithFSType"
    assert fake_kube.get_object("csidrivers", CSI) is None


# -- list: label and field selectors, paging ------------------------------------------------------
def test_label_selectors(fake_kube: FakeKube, core: client.CoreV1Api) -> None:
    fake_kube.seed(_pod("hub", {"app": "jupyterhub", "component": "hub"}))
    fake_kube.seed(_pod("proxy", {"app": "jupyterhub", "component": "proxy"}))
    fake_kube.seed(_pod("alice", {"app": "jupyterhub", "component": "singleuser-server", "hub.jupyter.org/username": "alice"}))
    fake_kube.seed(_pod("other", {"app": "other"}))
    fake_kube.seed(_pod("elsewhere", {"app": "jupyterhub", "component": "hub"}) | {"metadata": {"name": "elsewhere", "namespace": "jhub", "labels": {"app": "jupyterhub"}}})

    def names(selector: str, namespace: str | None = "default") -> list[str]:
        if namespace is None:
            items = core.list_pod_for_all_namespaces(label_selector=selector).items
        else:
            items = core.list_namespaced_pod(namespace, label_selector=selector).items
        return [p.metadata.name for p in items]

    assert names("") == ["alice", "hub", "other", "proxy"]
    assert names("app=jupyterhub") == ["alice", "hub", "proxy"]
    assert names("app==jupyterhub,component=hub") == ["hub"]
    assert names("component!=hub") == ["alice", "other", "proxy"]  # != matches objects without the label
    assert names("component in (hub, proxy)") == ["hub", "proxy"]
    assert names("component notin (hub),app=jupyterhub") == ["alice", "proxy"]
    assert names("hub.jupyter.org/username") == ["alice"]
    assert names("!component") == ["other"]
    assert names("app=jupyterhub", namespace=None) == ["alice", "hub", "proxy", "elsewhere"]
    with pytest.raises(ApiException) as exc:
        names("component in (hub")
    assert (exc.value.status, _status(exc.value)["reason"]) == (400, "BadRequest")


def test_field_selectors_and_paging(fake_kube: FakeKube, core: client.CoreV1Api) -> None:
    for i in range(5):
        pod = _pod(f"p{i}")
        pod["status"] = {"phase": "Running" if i % 2 else "Pending"}
        fake_kube.seed(pod)
    running = core.list_namespaced_pod("default", field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["p1", "p3"]
    assert [p.metadata.name for p in core.list_namespaced_pod("default", field_selector="metadata.name=p4").items] == ["p4"]
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("default", field_selector="spec.hostname=x")
    assert _status(exc.value)["message"] == "field label not supported: spec.hostname"
    page1 = core.list_namespaced_pod("default", limit=2)
    page2 = core.list_namespaced_pod("default", limit=2, _continue=page1.metadata._continue)
    page3 = core.list_namespaced_pod("default", limit=2, _continue=page2.metadata._continue)
    assert [p.metadata.name for p in page1.items + page2.items + page3.items] == ["p0", "p1", "p2", "p3", "p4"]
    assert page3.metadata._continue is None


# -- status subresource ---------------------------------------------------------------------------
def test_status_subresource(core: client.CoreV1Api) -> None:
    body = _pod("p1")
    body["status"] = {"phase": "Running"}
    created = core.create_namespaced_pod("default", body)
    assert created.status.phase == "Pending"  # create resets status
    current = core.read_namespaced_pod("p1", "default")
    current.status.phase = "Succeeded"
    current.metadata.labels = {"x": "y"}
    replaced = core.replace_namespaced_pod("p1", "default", current)
    assert (replaced.status.phase, replaced.metadata.labels) == ("Pending", {"x": "y"})  # main PUT ignores status
    current = core.read_namespaced_pod("p1", "default")
    current.status.phase = "Running"
    current.metadata.labels = {"changed": "by-status-put"}
    after = core.replace_namespaced_pod_status("p1", "default", current)
    assert (after.status.phase, after.metadata.labels) == ("Running", {"x": "y"})  # /status changes only status
    patched = core.patch_namespaced_pod_status("p1", "default", {"status": {"phase": "Failed"}, "spec": {"nodeName": "n"}})
    assert patched.status.phase == "Failed" and patched.spec.node_name is None


# -- pod logs -------------------------------------------------------------------------------------
def test_pod_logs(fake_kube: FakeKube, core: client.CoreV1Api) -> None:
    fake_kube.seed(_pod("hub"))
    fake_kube.set_pod_log("default", "hub", "line 1\nline 2\nline 3\n")
    assert core.read_namespaced_pod_log("hub", "default") == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("hub", "default", tail_lines=1) == "line 3\n"
    fake_kube.seed(_pod("two", containers=("notebook", "sidecar")))
    fake_kube.set_pod_log("default", "two", "from the sidecar\n", container="sidecar")
    assert core.read_namespaced_pod_log("two", "default", container="sidecar") == "from the sidecar\n"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("two", "default")
    assert _status(exc.value)["message"] == "a container name must be specified for pod two, choose one of: [notebook sidecar]"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("ghost", "default")
    assert _status(exc.value)["message"] == 'pods "ghost" not found'


# -- delete ---------------------------------------------------------------------------------------
def test_delete_answers_and_preconditions(fake_kube: FakeKube, api: client.ApiClient, core: client.CoreV1Api) -> None:
    storage = client.StorageV1Api(api)
    created = storage.create_csi_driver(_csidriver())
    with pytest.raises(ApiException) as exc:
        storage.delete_csi_driver(CSI, body={"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert _status(exc.value)["message"] == (
        f'Operation cannot be fulfilled on csidrivers.storage.k8s.io "{CSI}": Precondition failed: UID in precondition: '
        f"00000000-0000-0000-0000-000000000000, UID in object meta: {created.metadata.uid}"
    )
    deleted = storage.delete_csi_driver(CSI, body={"preconditions": {"uid": created.metadata.uid, "resourceVersion": created.metadata.resource_version}})
    assert deleted.metadata.name == CSI  # CSIDriver deletes answer the object
    assert fake_kube.get_object("csidrivers", CSI) is None
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"a": "b"}})
    raw = core.delete_namespaced_secret("s", "default", _preload_content=False)
    assert json.loads(raw.data)["status"] == "Success"  # secrets answer a Status
    # Finalizers hold the object (marked for deletion) until an update removes them.
    core.create_namespaced_config_map("default", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}})
    marked = core.delete_namespaced_config_map("held", "default", _preload_content=False)
    assert json.loads(marked.data)["metadata"]["deletionTimestamp"]
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    assert fake_kube.get_object("configmaps", "held", "default") is None


def test_namespace_delete_takes_its_objects(fake_kube: FakeKube, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "jhub"}})
    core.create_namespaced_secret("jhub", {"metadata": {"name": "hub"}})
    assert fake_kube.get_object("namespaces", "jhub")["metadata"]["labels"] == {"kubernetes.io/metadata.name": "jhub"}  # type: ignore[index]
    core.delete_namespace("jhub")
    assert fake_kube.objects("secrets", "jhub") == []


# -- patch flavours, routing ----------------------------------------------------------------------
def test_patch_flavours(api: client.ApiClient, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}})
    merged = core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"a": None}}}, _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"b": "2"}
    jp = core.patch_namespaced_config_map("c", "default", [{"op": "replace", "path": "/data/k", "value": "w"}, {"op": "add", "path": "/data/n", "value": "1"}])
    assert jp.data == {"k": "w", "n": "1"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("c", "default", {"data": {}}, _content_type="application/apply-patch+yaml", field_manager="t")
    assert exc.value.status == 415


def _raw(fake: FakeKube, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """A request without the kubernetes client (its low-level API differs between versions)."""
    ctx = ssl.create_default_context(cafile=str(fake.ca_pem_path))
    req = urllib.request.Request(fake.url + path, data=body, method=method, headers={"Authorization": f"Bearer {fake.token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_unknown_resource_and_method(fake_kube: FakeKube) -> None:
    status, body = _raw(fake_kube, "GET", "/apis/storage.k8s.io/v1/widgets")
    assert status == 404 and json.loads(body)["message"] == "the server could not find the requested resource"
    assert _raw(fake_kube, "GET", "/apis/example.com/v1/widgets") == (404, b"404 page not found\n")
    status, body = _raw(fake_kube, "POST", "/apis/storage.k8s.io/v1/csidrivers/x", b"{}")
    assert (status, json.loads(body)["reason"]) == (405, "MethodNotAllowed")
    status, body = _raw(fake_kube, "GET", "/api/v1/pods/p1")  # a namespaced object needs its namespace
    assert status == 404
    assert _raw(fake_kube, "GET", "/healthz") == (200, b"ok")


def test_discovery_serves_the_dynamic_client(fake_kube: FakeKube, api: client.ApiClient) -> None:
    dyn = dynamic.DynamicClient(api)
    drivers = dyn.resources.get(api_version="storage.k8s.io/v1", kind="CSIDriver")
    drivers.create(body=_csidriver())
    assert drivers.get(name=CSI).spec.attachRequired is False
    fake_kube.register(ResourceType("example.com", "v1", "widgets", "Widget", True))
    widgets = dynamic.DynamicClient(api).resources.get(api_version="example.com/v1", kind="Widget")
    widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}, namespace="default")
    assert fake_kube.get_object("widgets", "w", "default")["spec"] == {"size": 3}  # type: ignore[index]


# -- request log and fault injection --------------------------------------------------------------
def test_request_log_records_verbs_targets_and_bodies(fake_kube: FakeKube, storage: client.StorageV1Api) -> None:
    storage.create_csi_driver(_csidriver())
    storage.patch_csi_driver(CSI, {"spec": {"requiresRepublish": True}})
    with pytest.raises(ApiException):
        storage.read_csi_driver("nope")
    assert fake_kube.calls() == [
        ("create", "csidrivers", 201),
        ("patch", f"csidrivers/{CSI}", 200),
        ("get", "csidrivers/nope", 404),
    ]
    create, patch, _ = fake_kube.requests
    assert create.body["metadata"] == {"name": CSI}
    assert patch.body == {"spec": {"requiresRepublish": True}} and patch.content_type == "application/strategic-merge-patch+json"
    assert [r.verb for r in fake_kube.writes()] == ["create", "patch"]


def test_fault_injection(fake_kube: FakeKube, storage: client.StorageV1Api) -> None:
    fake_kube.faults.inject(500, verb="create", resource="csidrivers")
    with pytest.raises(ApiException) as exc:
        storage.create_csi_driver(_csidriver())
    body = _status(exc.value)
    assert (exc.value.status, body["reason"], body["kind"]) == (500, "InternalError", "Status")
    assert body["message"].startswith("Internal error occurred: injected")
    assert fake_kube.get_object("csidrivers", CSI) is None
    storage.create_csi_driver(_csidriver())  # only the next one failed
    # after=True: the write happens, its answer is lost.
    fake_kube.faults.inject(503, verb="patch", resource="csidrivers.storage.k8s.io", after=True)
    with pytest.raises(ApiException) as exc:
        storage.patch_csi_driver(CSI, {"spec": {"requiresRepublish": True}})
    assert exc.value.status == 503
    assert fake_kube.get_object("csidrivers", CSI)["spec"]["requiresRepublish"] is True  # type: ignore[index]
    # A hook sees every request and may answer it.
    seen: list[str | None] = []

    def hook(rec: RequestRecord) -> FaultResponse | None:
        seen.append(rec.verb)
        return FaultResponse(403, message="denied by the hook") if rec.verb == "delete" else None

    fake_kube.faults.hook = hook
    with pytest.raises(ApiException) as exc:
        storage.delete_csi_driver(CSI)
    assert (exc.value.status, _status(exc.value)["reason"], _status(exc.value)["message"]) == (403, "Forbidden", "denied by the hook")
    assert seen == ["delete"]
    assert fake_kube.requests[-1].fault == 403 and fake_kube.faults.count() == 3


def test_client_retries_429_with_retry_after(fake_kube: FakeKube, storage: client.StorageV1Api) -> None:
    """Worth knowing when reading request logs: the official client 37.x retries a 429 that carries
    Retry-After by itself (4 attempts in all); older clients do not retry."""
    fake_kube.faults.inject(429, verb="get", resource="csidrivers", retry_after="0", times=10)
    with pytest.raises(ApiException) as exc:
        storage.read_csi_driver(CSI)
    assert exc.value.status == 429 and exc.value.headers["Retry-After"] == "0"
    assert _status(exc.value)["reason"] == "TooManyRequests"
    assert {r.status for r in fake_kube.requests} == {429} and 1 <= len(fake_kube.requests) <= 4
