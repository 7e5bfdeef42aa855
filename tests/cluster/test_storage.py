"""`jhubctl apply-storage` over the fake Kubernetes API: the seed's three files as objects, applied once."""

from __future__ import annotations

import json

import yaml

from tests.cluster.conftest import NAMESPACE, ClusterEnv


def test_dry_run_prints_the_manifests_and_touches_nothing(cluster_env: ClusterEnv) -> None:
    result = cluster_env.ok("apply-storage", "--dry-run", "-o", "yaml")
    sc, pv, pvc = yaml.safe_load_all(result.stdout)
    assert (sc["kind"], sc["provisioner"], sc["parameters"], sc["mountOptions"]) == (
        "StorageClass", "blob.csi.azure.com", {"protocol": "nfs"}, ["nconnect=4"])
    csi = pv["spec"]["csi"]
    assert csi["volumeHandle"] == "jhub-rg#jhubstore1#users"  # unique per account and container
    assert csi["volumeAttributes"] == {"resourceGroup": "jhub-rg", "storageAccount": "jhubstore1", "containerName": "users",
                                       "protocol": "nfs", "mountPermissions": "0770"}
    assert (pv["spec"]["persistentVolumeReclaimPolicy"], pv["spec"]["accessModes"]) == ("Retain", ["ReadWriteMany"])
    assert pv["spec"]["claimRef"] == {"namespace": NAMESPACE, "name": "azure-blob-nfs-pvc"}
    assert (pvc["metadata"]["namespace"], pvc["spec"]["volumeName"]) == (NAMESPACE, "azure-blob-nfs-pv")
    assert len(cluster_env.kube.requests) == 0


def test_apply_waits_for_bound_and_a_rerun_writes_nothing(cluster_env: ClusterEnv) -> None:
    result = cluster_env.ok("apply-storage", "--yes")
    assert "claim jhub/azure-blob-nfs-pvc is Bound" in result.stderr
    assert [(r.verb, r.target) for r in cluster_env.ours()] == [
        ("create", "namespaces"), ("create", "storageclasses"), ("create", "persistentvolumes"),
        ("create", "persistentvolumeclaims")]
    claim = cluster_env.kube.get_object("persistentvolumeclaims", "azure-blob-nfs-pvc", NAMESPACE)
    assert claim is not None and claim["status"]["phase"] == "Bound"
    seen = len(cluster_env.kube.requests)
    again = cluster_env.ok("-o", "json", "apply-storage")  # nothing to change: no --yes needed
    assert cluster_env.all_writes(seen) == []
    doc = json.loads(again.stdout)
    assert {c["action"] for c in doc["changes"]} == {"unchanged"} and doc["phase"] == "Bound"
    assert cluster_env.journal()["apply-storage"]["outputs"] == {"namespace": NAMESPACE, "claim": "azure-blob-nfs-pvc",
                                                                 "phase": "Bound"}


def test_a_changed_option_is_patched_and_an_immutable_one_explained(cluster_env: ClusterEnv) -> None:
    cluster_env.ok("apply-storage", "--yes")
    seen = len(cluster_env.kube.requests)
    cluster_env.write_config({"storage": {"mount_options": []}})  # for Azure Linux nodes: no nconnect
    cluster_env.ok("apply-storage", "--yes")
    assert [(r.verb, r.target) for r in cluster_env.ours(seen)] == [
        ("patch", "storageclasses/azure-blob-nfs"), ("patch", "persistentvolumes/azure-blob-nfs-pv")]
    pv = cluster_env.kube.get_object("persistentvolumes", "azure-blob-nfs-pv")
    assert pv is not None and pv["spec"]["mountOptions"] == [] and pv["status"]["phase"] == "Bound"
    cluster_env.write_config({"azure": {"resource_group": "other-rg"}})  # the volume handle cannot change
    result = cluster_env.run("apply-storage", "--yes")
    assert result.code == 1 and "field is immutable" in result.stderr
    assert "cannot change" in result.stderr and "Retain volume keeps its data" in result.stderr


def test_a_claim_that_stays_pending_is_explained(cluster_env: ClusterEnv) -> None:
    cluster_env.kube.seed({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "shared", "namespace": NAMESPACE},
                           "spec": {"accessModes": ["ReadWriteMany"], "volumeName": "gone",
                                    "resources": {"requests": {"storage": "1Gi"}}}})
    cluster_env.write_config({"kubernetes": {"existing_claim": "shared", "wait_timeout": 0.5}})
    result = cluster_env.run("apply-storage", "--yes")
    assert result.code == 4
    assert ("timed out after 0.5 s waiting for PersistentVolumeClaim jhub/shared to be Bound: the claim is Pending; "
            "it names volume gone, which does not exist") in result.stderr
    assert cluster_env.ours() == []


def test_an_existing_claim_is_used_as_it_is(cluster_env: ClusterEnv) -> None:
    cluster_env.kube.seed({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "rwo", "namespace": NAMESPACE},
                           "spec": {"accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Bound"}})
    cluster_env.write_config({"kubernetes": {"existing_claim": "rwo"}})
    result = cluster_env.run("apply-storage")
    assert result.code == 1 and "not ReadWriteMany" in result.stderr
    cluster_env.kube.seed({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "nfs", "namespace": NAMESPACE},
                           "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}})
    cluster_env.write_config({"kubernetes": {"existing_claim": "nfs"}})
    cluster_env.ok("apply-storage")
    assert cluster_env.ours() == []


def test_no_account_and_no_claim_says_what_to_set(cluster_env: ClusterEnv) -> None:
    cluster_env.config["storage"].pop("account_name")
    cluster_env.write_config()
    result = cluster_env.run("apply-storage", "--dry-run")
    assert result.code == 2 and "kubernetes.existing_claim" in result.stderr


def test_no_terminal_and_no_yes_changes_nothing(cluster_env: ClusterEnv) -> None:
    result = cluster_env.run("apply-storage")
    assert result.code == 2 and "no terminal to ask: create Namespace jhub; create StorageClass" in result.stderr
    assert cluster_env.all_writes() == []
