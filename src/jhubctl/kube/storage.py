"""The shared conversation volume: the seed's three storage files (section 5.4), made from the config.

A StorageClass for the blob CSI driver over NFS, one static PersistentVolume on the provisioned blob
container (``Retain``: deleting the claim never deletes data), and the ReadWriteMany claim every user pod
mounts by sub-path. The volume is reserved for that claim (``claimRef``) and the claim names the volume
(``volumeName``), so neither can bind to anything else. The volume handle is
``<resource group>#<account>#<container>``: the blob driver needs it unique in the cluster, and the
seed's ``<account>_users`` collides as soon as two containers of one account are used.

On `target: kubernetes` the config can name an existing claim instead (``kubernetes.existing_claim``):
then nothing is created, the claim is only checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Loaded
from ..errors import JhubctlError, UsageError
from ..state import Journal
from .client import KubeClient
from .wait import claim_bound, explain_claim, until

BLOB_DRIVER = "blob.csi.azure.com"
STEP = "apply-storage"
MANAGED = {"app.kubernetes.io/managed-by": "jhubctl"}


@dataclass(frozen=True)
class StoragePlan:
    namespace: str
    claim: str
    #: The objects to apply, in order; empty when an existing claim is used.
    manifests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def existing(self) -> bool:
        return not self.manifests


@dataclass(frozen=True)
class StorageResult:
    namespace: str
    claim: str
    #: (kind, name, action) for every object, action created/updated/unchanged/checked.
    changes: list[tuple[str, str, str]]
    phase: str

    @property
    def changed(self) -> bool:
        return any(action in ("created", "updated") for _, _, action in self.changes)

    def outputs(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "claim": self.claim, "phase": self.phase}


def plan(loaded: Loaded) -> StoragePlan:
    """The manifests from the config and provision's outputs (journal only: no cluster needed)."""
    config = loaded.config
    namespace = config.kubernetes.namespace
    if config.kubernetes.existing_claim:
        return StoragePlan(namespace, config.kubernetes.existing_claim)
    provisioned = Journal(loaded.state_dir).get("storage")
    outputs = provisioned.outputs if provisioned is not None and provisioned.status == "succeeded" else {}
    account = outputs.get("account_name") or config.storage.account_name
    container = outputs.get("container") or config.storage.container
    if not account:
        raise UsageError(
            "apply-storage needs a storage account (storage.account_name) or an existing claim",
            hint="target azure: run `jhubctl provision`; another cluster: set kubernetes.existing_claim to a "
                 "ReadWriteMany claim in the namespace, or storage.account_name to a blob NFS account",
        )
    return StoragePlan(namespace, config.storage.pvc_name, manifests(loaded, account, container))


def manifests(loaded: Loaded, account: str, container: str) -> list[dict[str, Any]]:
    config = loaded.config
    storage, namespace = config.storage, config.kubernetes.namespace
    labels = {**MANAGED, "jhubctl.io/env": config.name}
    return [
        {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": storage.storage_class, "labels": labels},
            "provisioner": BLOB_DRIVER,
            "parameters": {"protocol": "nfs"},
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "Immediate",
            "mountOptions": list(storage.mount_options),
        },
        {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": storage.pv_name, "labels": labels,
                         "annotations": {"pv.kubernetes.io/provisioned-by": BLOB_DRIVER}},
            "spec": {
                "capacity": {"storage": storage.pvc_size},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": storage.storage_class,
                "mountOptions": list(storage.mount_options),
                "claimRef": {"namespace": namespace, "name": storage.pvc_name},
                "csi": {
                    "driver": BLOB_DRIVER,
                    "volumeHandle": f"{config.azure.resource_group}#{account}#{container}",
                    "volumeAttributes": {
                        "resourceGroup": config.azure.resource_group,
                        "storageAccount": account,
                        "containerName": container,
                        "protocol": "nfs",
                        "mountPermissions": storage.mount_permissions,
                    },
                },
            },
        },
        {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": storage.pvc_name, "namespace": namespace, "labels": labels},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": storage.storage_class,
                "volumeName": storage.pv_name,
                "resources": {"requests": {"storage": storage.pvc_size}},
            },
        },
    ]


def ensure_namespace(kube: KubeClient, namespace: str) -> str:
    """Create the namespace if missing (``created``/``unchanged``); an existing one is left exactly as it is."""
    if kube.get("Namespace", namespace) is not None:
        return "unchanged"
    kube.create("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return "created"


def preview(kube: KubeClient, storage: StoragePlan) -> list[tuple[str, str, str]]:
    """(kind, name, create/update/unchanged) of each object, from GETs only."""
    from .client import drift

    found = [("Namespace", storage.namespace, "unchanged" if kube.get("Namespace", storage.namespace) else "create")]
    for manifest in storage.manifests:
        meta = manifest["metadata"]
        live = kube.get(manifest["kind"], meta["name"], meta.get("namespace"))
        action = "create" if live is None else ("update" if drift(manifest, live) else "unchanged")
        found.append((manifest["kind"], meta["name"], action))
    return found


def apply(
    kube: KubeClient, storage: StoragePlan, *, timeout: float, on_wait: Callable[[str], None] | None = None,
    approve: Callable[[list[str]], None] | None = None,
) -> StorageResult:
    """Apply the manifests (only differences are written), then wait until the claim is Bound.

    ``approve`` sees the planned writes first (only if there are any) and raises to refuse them.
    """
    if approve is not None:
        writes = [f"{action} {kind} {name}" for kind, name, action in preview(kube, storage) if action != "unchanged"]
        if writes:
            approve(writes)
    changes = [("Namespace", storage.namespace, ensure_namespace(kube, storage.namespace))]
    for manifest in storage.manifests:
        applied = kube.apply(manifest)
        changes.append((manifest["kind"], manifest["metadata"]["name"], applied.action))
    if storage.existing:
        _check_existing(kube, storage)
        changes.append(("PersistentVolumeClaim", storage.claim, "checked"))
    claim = until(
        f"PersistentVolumeClaim {storage.namespace}/{storage.claim} to be Bound",
        lambda: claim_bound(kube, storage.namespace, storage.claim),
        timeout=timeout, explain=lambda: explain_claim(kube, storage.namespace, storage.claim), on_wait=on_wait,
    )
    return StorageResult(storage.namespace, storage.claim, changes, claim["status"]["phase"])


def _check_existing(kube: KubeClient, storage: StoragePlan) -> None:
    claim = kube.get("PersistentVolumeClaim", storage.claim, storage.namespace)
    if claim is None:
        raise JhubctlError(
            f"kubernetes.existing_claim names {storage.namespace}/{storage.claim}, which does not exist",
            hint="create the claim (ReadWriteMany) in that namespace, or unset existing_claim",
        )
    modes = (claim.get("spec") or {}).get("accessModes") or []
    if "ReadWriteMany" not in modes:
        raise JhubctlError(
            f"claim {storage.namespace}/{storage.claim} is {', '.join(modes) or 'without access modes'}, not "
            "ReadWriteMany: user pods on different nodes could not mount it at once",
            hint="use a ReadWriteMany claim (NFS, Azure Files, Blob NFS ...)",
        )


def run(loaded: Loaded, kube: KubeClient, storage: StoragePlan, *, timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None, approve: Callable[[list[str]], None] | None = None) -> StorageResult:
    """:func:`apply`, recorded in the journal as the step ``apply-storage``."""
    with Journal(loaded.state_dir).step(STEP, loaded.config.digest("storage", "kubernetes")) as outputs:
        result = apply(kube, storage, timeout=timeout or loaded.config.kubernetes.wait_timeout, on_wait=on_wait,
                       approve=approve)
        outputs.update(result.outputs())
    return result
