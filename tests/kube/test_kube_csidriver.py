"""The blob CSI driver's fsGroupPolicy step (``jhubctl.kube.csidriver``) against the fake API server.

Every test asserts the exact request sequence from the fake's log: the point of the step is *which*
writes it sends, in which order, and that it sends none when there is nothing to do.
"""

from __future__ import annotations

import re
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from jhubctl.errors import JhubctlError
from jhubctl.kube import KubeClient, KubeError
from jhubctl.kube.csidriver import (
    CsiDriverUpdateError,
    ensure_blob_fsgroup_policy,
    replacement_for,
    write_backup,
)
from tests.fakes.kube import FakeKube, RequestRecord
from tests.fakes.kube.objects import BLOB_CSI_DRIVER as CSI, aks_blob_csidriver

TARGET = f"csidrivers/{CSI}"

#: What an AKS cluster with the blob driver add-on holds, for the expected values (read only: tests seed fresh copies).
LIVE: dict[str, Any] = aks_blob_csidriver()


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeClient]:
    with KubeClient.from_kubeconfig(kubeconfig, context="fake") as client:
        yield client


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "state" / "backups"


def _seed(fake: FakeKube, **spec: Any) -> dict[str, Any]:
    return fake.seed(aks_blob_csidriver(**spec))


def _requests(fake: FakeKube) -> list[RequestRecord]:
    return fake.requests.snapshot()


def _backup_files(backups: Path) -> list[Path]:
    return sorted(backups.glob("*")) if backups.exists() else []


def test_recreates_with_only_fsgroup_policy_changed(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    original = _seed(fake_kube)
    result = ensure_blob_fsgroup_policy(kube, backups)

    assert (result.action, result.before_policy, result.after_policy) == ("recreated", "ReadWriteOnceWithFSType", "File")
    assert fake_kube.calls() == [
        ("get", TARGET, 200),
        ("patch", TARGET, 422),  # in place first: refused, fsGroupPolicy is immutable before 1.29
        ("delete", TARGET, 200),
        ("create", "csidrivers", 201),
        ("get", TARGET, 200),  # verify
    ]
    _, patch, delete, create, _ = _requests(fake_kube)
    assert patch.body == {"metadata": {"resourceVersion": original["metadata"]["resourceVersion"]}, "spec": {"fsGroupPolicy": "File"}}
    assert delete.body["preconditions"] == {"uid": original["metadata"]["uid"], "resourceVersion": original["metadata"]["resourceVersion"]}
    # The created copy is the live object without server-set metadata, and only the policy changed.
    expected = aks_blob_csidriver(fsGroupPolicy="File")
    assert create.body == expected
    now = fake_kube.get_object("csidrivers", CSI)
    assert now is not None
    assert now["spec"] == expected["spec"]  # tokenRequests, requiresRepublish, seLinuxMount ... kept
    assert now["metadata"]["labels"] == LIVE["metadata"]["labels"]
    assert now["metadata"]["annotations"] == LIVE["metadata"]["annotations"]  # last-applied kept on purpose
    assert now["metadata"]["uid"] != original["metadata"]["uid"]  # a new object


def test_backup_is_the_live_object_0600_and_never_overwritten(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    original = _seed(fake_kube)
    result = ensure_blob_fsgroup_policy(kube, backups)
    path = result.backup_path
    assert path is not None and path.parent == backups
    assert re.fullmatch(rf"csidriver-{re.escape(CSI)}-\d{{8}}T\d{{6}}Z(-\d+)?\.yaml", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("# CSIDriver blob.csi.azure.com as the API server returned it")
    assert yaml.safe_load(text) == original  # resourceVersion, uid ... as read: a faithful record
    # Two backups in the same second get two files; the older one is left alone.
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first = write_backup(original, backups, now=when)
    second = write_backup({**original, "spec": {}}, backups, now=when)
    assert (first.name, second.name) == (f"csidriver-{CSI}-20250102T030405Z.yaml", f"csidriver-{CSI}-20250102T030405Z-2.yaml")
    assert yaml.safe_load(first.read_text()) == original


def test_already_file_sends_no_write(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    _seed(fake_kube, fsGroupPolicy="File")
    result = ensure_blob_fsgroup_policy(kube, backups)
    assert (result.action, result.backup_path, result.after_policy) == ("unchanged", None, "File")
    assert fake_kube.calls() == [("get", TARGET, 200)]
    assert fake_kube.writes() == [] and _backup_files(backups) == []


def test_dry_run_sends_no_write(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    original = _seed(fake_kube)
    result = ensure_blob_fsgroup_policy(kube, backups, dry_run=True)
    assert (result.action, result.before_policy, result.after_policy) == ("would-recreate", "ReadWriteOnceWithFSType", "File")
    assert fake_kube.calls() == [("get", TARGET, 200)]
    assert fake_kube.writes() == [] and _backup_files(backups) == []
    assert fake_kube.get_object("csidrivers", CSI) == original


def test_in_place_patch_when_the_server_allows_it(fake_kube_factory: Callable[..., FakeKube], tmp_path: Path, backups: Path) -> None:
    fake = fake_kube_factory(git_version="v1.29.2")
    original = _seed(fake)
    with KubeClient.from_kubeconfig(fake.write_kubeconfig(tmp_path / "kc129", "aks")) as kube:
        result = ensure_blob_fsgroup_policy(kube, backups)
    assert (result.action, result.after_policy) == ("patched", "File")
    assert fake.calls() == [("get", TARGET, 200), ("patch", TARGET, 200), ("get", TARGET, 200)]  # no DELETE: no window
    assert fake.requests[1].content_type == "application/merge-patch+json"
    now = fake.get_object("csidrivers", CSI)
    assert now is not None and now["metadata"]["uid"] == original["metadata"]["uid"]
    assert now["spec"] == {**LIVE["spec"], "fsGroupPolicy": "File"}
    assert result.backup_path is not None and yaml.safe_load(result.backup_path.read_text()) == original


def test_create_failure_restores_the_original(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    original = _seed(fake_kube)
    fake_kube.faults.inject(500, message="etcdserver: request timed out", verb="create", resource="csidrivers")
    with pytest.raises(CsiDriverUpdateError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    err = exc.value
    assert isinstance(err, JhubctlError)
    assert err.result.action == "restored-after-failure" and err.result.after_policy == "ReadWriteOnceWithFSType"
    assert "500 InternalError: Internal error occurred: etcdserver: request timed out" in err.message
    assert "the original driver was restored" in err.message
    assert fake_kube.calls() == [
        ("get", TARGET, 200),
        ("patch", TARGET, 422),
        ("delete", TARGET, 200),
        ("create", "csidrivers", 500),  # the copy: failed
        ("create", "csidrivers", 201),  # the original, from the backup
    ]
    restore_body = _requests(fake_kube)[4].body
    assert restore_body == LIVE  # the live object minus server-set metadata
    now = fake_kube.get_object("csidrivers", CSI)
    assert now is not None
    assert now["spec"] == original["spec"] and now["metadata"]["labels"] == original["metadata"]["labels"]
    assert now["metadata"]["annotations"] == original["metadata"]["annotations"]
    assert err.result.backup_path is not None and err.result.backup_path.exists()


def test_restore_failure_says_the_driver_is_gone(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    _seed(fake_kube)
    fake_kube.faults.inject(503, verb="create", resource="csidrivers", times=2)
    with pytest.raises(CsiDriverUpdateError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    err = exc.value
    assert err.result.action == "failed"
    assert "restoring the original failed too" in err.message and f"the cluster has no CSIDriver {CSI} now" in err.message
    assert err.hint is not None and str(err.result.backup_path) in err.hint
    assert fake_kube.get_object("csidrivers", CSI) is None
    assert [c[0] for c in fake_kube.calls()] == ["get", "patch", "delete", "create", "create"]


def test_object_changed_after_the_read_changes_nothing(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    """Someone updates the driver between our GET and our PATCH: the conditional PATCH gets 409, no delete."""
    _seed(fake_kube)

    def meanwhile(rec: RequestRecord) -> None:
        if rec.verb == "patch":
            _seed(fake_kube, requiresRepublish=False)  # a new resourceVersion

    fake_kube.faults.hook = meanwhile
    with pytest.raises(KubeError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    assert (exc.value.status, exc.value.reason) == (409, "Conflict")
    assert exc.value.hint is not None and "nothing was changed" in exc.value.hint
    assert fake_kube.calls() == [("get", TARGET, 200), ("patch", TARGET, 409)]
    assert fake_kube.get_object("csidrivers", CSI)["spec"]["fsGroupPolicy"] == "ReadWriteOnceWithFSType"  # type: ignore[index]


def test_driver_recreated_by_someone_else_in_the_window(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    """The AKS add-on manager (say) re-creates the driver right after our DELETE: no restore over it."""
    _seed(fake_kube)

    def reconciler(rec: RequestRecord) -> None:
        if rec.verb == "create":
            _seed(fake_kube)

    fake_kube.faults.hook = reconciler
    with pytest.raises(CsiDriverUpdateError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    assert exc.value.result.action == "failed"
    assert "something else re-created it meanwhile" in exc.value.message
    assert "fsGroupPolicy is now ReadWriteOnceWithFSType" in exc.value.message
    assert fake_kube.calls() == [
        ("get", TARGET, 200),
        ("patch", TARGET, 422),
        ("delete", TARGET, 200),
        ("create", "csidrivers", 409),
        ("get", TARGET, 200),
    ]


def test_verification_catches_a_changed_object(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    _seed(fake_kube)

    def tamper(rec: RequestRecord) -> None:
        if rec.verb == "get" and rec.seq > 0:
            current = fake_kube.get_object("csidrivers", CSI)
            assert current is not None
            current["spec"]["tokenRequests"] = None
            fake_kube.seed(current)

    fake_kube.faults.hook = tamper
    with pytest.raises(CsiDriverUpdateError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    assert exc.value.result.action == "failed"
    assert 'spec.tokenRequests: backup [{"audience":"api://AzureADTokenExchange"}], now null' in exc.value.message


def test_missing_driver_is_a_clear_error(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    with pytest.raises(KubeError) as exc:
        ensure_blob_fsgroup_policy(kube, backups)
    assert exc.value.message.startswith("the blob CSI driver is not installed")
    assert "az aks update --enable-blob-driver" in (exc.value.hint or "")
    assert fake_kube.calls() == [("get", TARGET, 404)] and _backup_files(backups) == []


def test_fields_the_client_does_not_know_are_kept(fake_kube: FakeKube, kube: KubeClient, backups: Path) -> None:
    _seed(fake_kube, nodeAllocatableUpdatePeriodSeconds=60, someFutureField={"mode": "x"})
    ensure_blob_fsgroup_policy(kube, backups)
    now = fake_kube.get_object("csidrivers", CSI)
    assert now is not None and now["spec"]["someFutureField"] == {"mode": "x"} and now["spec"]["nodeAllocatableUpdatePeriodSeconds"] == 60


def test_replacement_strips_only_server_set_metadata() -> None:
    live = aks_blob_csidriver()
    live["metadata"].update(
        resourceVersion="7", uid="u", creationTimestamp="2024-01-01T00:00:00Z", generation=3, managedFields=[{"manager": "m"}],
        ownerReferences=[{"kind": "X"}], finalizers=["f"],
    )
    live["status"] = {}
    out = replacement_for(live)
    assert set(out["metadata"]) == {"name", "labels", "annotations", "ownerReferences", "finalizers"}
    assert "status" not in out and out["spec"]["fsGroupPolicy"] == "File"
    assert live["spec"]["fsGroupPolicy"] == "ReadWriteOnceWithFSType"  # input untouched
