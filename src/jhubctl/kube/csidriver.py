"""Give the blob CSI driver ``fsGroupPolicy: File`` — the seed's step 5.2, done safely.

Why the step exists: with the default policy (``ReadWriteOnceWithFSType``) kubelet never applies a pod's
``fsGroup`` to an RWX NFS volume, so the shared blob volume is mounted root-owned and notebooks cannot be
saved. The policy lives on the cluster-wide ``CSIDriver`` object ``blob.csi.azure.com``.

Why not the seed's ``kubectl get -o yaml > backup; kubectl delete; kubectl create <hand-written>``:

* the hand-written object keeps only four spec fields: ``tokenRequests``, ``requiresRepublish``,
  ``seLinuxMount``, labels and annotations of the installed driver are silently dropped. Here the copy is
  the live object itself with only ``spec.fsGroupPolicy`` changed;
* between the delete and the create there is **no CSIDriver**. Kubernetes then falls back to the
  defaults (attach required, no pod info on mount), so a pod that mounts a blob volume in that window
  waits for an attach no one performs, or mounts without the driver's settings: it fails to mount. So the
  object is first changed **in place** with a merge PATCH of just that field, which API servers accept
  from Kubernetes 1.29 on (``fsGroupPolicy`` became mutable). Only when the server answers 422 "field is
  immutable" (before 1.29) does the step fall back to delete + create, keeping that window as short as
  two requests;
* the delete is conditional (``preconditions`` uid + resourceVersion: exactly the object that was backed
  up), and the PATCH carries the resourceVersion it was computed from (409 if the object changed);
* the backup is written (0600, fsynced, never overwriting an older one) before the first write request,
  and if the create fails the original is re-created from it and the error says so;
* afterwards a GET checks that the policy is ``File`` and that every other spec field, label and
  annotation equals the backup's. Whether AKS reconciles the object back later is unknown: the step is
  idempotent (an object already at ``File`` costs one GET and no write), so run it again after install.

``kubectl.kubernetes.io/last-applied-configuration`` is kept on the copy: it is not server-set, it belongs
to whoever manages the object with ``kubectl apply``, and dropping it would make their next three-way
merge unable to prune the fields they set. An imperative change leaves it alone, as ``kubectl patch`` does.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import Any, Literal, Protocol
from collections.abc import Mapping

import yaml

from jhubctl.errors import JhubctlError

from .client import KubeError

BLOB_DRIVER = "blob.csi.azure.com"
TARGET_POLICY = "File"
#: Metadata the API server writes; a create carrying any of it is refused or misleading.
SERVER_SET_METADATA = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

Action = Literal["unchanged", "patched", "recreated", "would-recreate", "restored-after-failure", "failed"]


class CsiDriverApi(Protocol):
    """The part of :class:`~jhubctl.kube.client.KubeClient` this step uses."""

    def get_csidriver(self, name: str) -> dict[str, Any] | None: ...
    def patch_csidriver(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]: ...
    def delete_csidriver(self, name: str, *, uid: str | None = None, resource_version: str | None = None) -> dict[str, Any] | None: ...
    def create_csidriver(self, body: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CsiResult:
    """What the step did.

    ``action``: ``unchanged`` (already File, nothing written), ``patched`` (changed in place),
    ``recreated`` (deleted and created again), ``would-recreate`` (dry run: the worst case, since finding
    out whether the server takes a PATCH would need a write request), ``restored-after-failure`` (the create
    failed and the original is back) or ``failed`` (see the error's message).
    """

    action: Action
    driver_name: str
    backup_path: Path | None
    before_policy: str | None
    after_policy: str | None


class CsiDriverUpdateError(JhubctlError):
    """The change did not go through; :attr:`result` says where the driver was left."""

    def __init__(self, message: str, result: CsiResult, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


def ensure_blob_fsgroup_policy(
    kube: CsiDriverApi, backup_dir: Path, *, dry_run: bool = False, driver_name: str = BLOB_DRIVER
) -> CsiResult:
    """Make ``spec.fsGroupPolicy`` of the CSIDriver ``driver_name`` be ``File``, keeping everything else.

    Requests: GET; then, unless already File or dry run: PATCH (in place); if that is refused as
    immutable: DELETE (conditional), POST (the copy), and on failure POST (the original); then GET (verify).
    """
    live = kube.get_csidriver(driver_name)
    if live is None:
        raise KubeError(
            f"the blob CSI driver is not installed: there is no CSIDriver {driver_name} on the cluster",
            status=404,
            reason="NotFound",
            hint="jhubctl provision creates clusters with it; on another cluster: az aks update --enable-blob-driver",
        )
    before = policy_of(live)
    if before == TARGET_POLICY:
        return CsiResult("unchanged", driver_name, None, before, before)
    if dry_run:
        return CsiResult("would-recreate", driver_name, None, before, TARGET_POLICY)

    backup = write_backup(live, Path(backup_dir))
    meta = live.get("metadata") or {}
    # 1. In place, conditional on the version we backed up (no window without a driver).
    try:
        kube.patch_csidriver(driver_name, {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "spec": {"fsGroupPolicy": TARGET_POLICY}})
    except KubeError as e:
        if not e.is_immutable("spec.fsGroupPolicy"):
            e.hint = e.hint or f"nothing was changed; the live object was saved to {backup}"
            raise
    else:
        after = _verify(kube, driver_name, live, backup, before, "patched")
        return CsiResult("patched", driver_name, backup, before, after)

    # 2. Immutable on this server (< 1.29): delete exactly the backed-up object, create the copy.
    try:
        kube.delete_csidriver(driver_name, uid=meta.get("uid"), resource_version=meta.get("resourceVersion"))
    except KubeError as e:
        e.hint = e.hint or f"nothing was changed; the live object was saved to {backup}"
        raise
    try:
        kube.create_csidriver(replacement_for(live))
    except KubeError as e:
        raise _restore(kube, driver_name, live, backup, before, e) from e
    after = _verify(kube, driver_name, live, backup, before, "re-created")
    return CsiResult("recreated", driver_name, backup, before, after)


def policy_of(obj: Mapping[str, Any] | None) -> str | None:
    spec = (obj or {}).get("spec") or {}
    value = spec.get("fsGroupPolicy")
    return None if value is None else str(value)


def restorable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` that can be created again: server-set metadata and ``status`` removed."""
    out = copy.deepcopy(dict(obj))
    meta = dict(out.get("metadata") or {})
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    out["metadata"] = meta
    out.pop("status", None)
    return out


def replacement_for(live: Mapping[str, Any]) -> dict[str, Any]:
    """The live object, re-creatable, with ``spec.fsGroupPolicy: File`` and nothing else changed."""
    out = restorable(live)
    out["spec"] = dict(out.get("spec") or {})
    out["spec"]["fsGroupPolicy"] = TARGET_POLICY
    return out


def write_backup(obj: Mapping[str, Any], backup_dir: Path, *, now: datetime | None = None) -> Path:
    """Write ``obj`` as YAML to a new file ``csidriver-<name>-<UTC time>[-n].yaml`` (0600, fsynced).

    ``O_EXCL`` guarantees an older backup is never overwritten, even by two runs in the same second.
    """
    when = (now or datetime.now(UTC)).astimezone(UTC)
    name = str((obj.get("metadata") or {}).get("name") or "unnamed")
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    header = (
        f"# CSIDriver {name} as the API server returned it at {when:%Y-%m-%dT%H:%M:%SZ}, saved by jhubctl before\n"
        f"# setting spec.fsGroupPolicy: {TARGET_POLICY}. To restore it by hand, remove metadata.resourceVersion, uid,\n"
        f"# creationTimestamp, generation and managedFields, then: kubectl create -f <this file>\n"
    )
    text = header + yaml.safe_dump(dict(obj), sort_keys=False, default_flow_style=False)
    base = f"csidriver-{name}-{when:%Y%m%dT%H%M%SZ}"
    for n in itertools.count(1):
        path = backup_dir / (f"{base}.yaml" if n == 1 else f"{base}-{n}.yaml")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return path
    raise AssertionError("unreachable")  # pragma: no cover


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any], *, ignore: tuple[str, ...] = ("fsGroupPolicy",)) -> list[str]:
    """Spec fields (but ``ignore``), labels and annotations that differ, as ``path: backup X, now Y``."""
    out: list[str] = []
    exp_spec, act_spec = expected.get("spec") or {}, actual.get("spec") or {}
    for key in sorted(set(exp_spec) | set(act_spec)):
        if key not in ignore and exp_spec.get(key) != act_spec.get(key):
            out.append(f"spec.{key}: backup {_show(exp_spec.get(key))}, now {_show(act_spec.get(key))}")
    for part in ("labels", "annotations"):
        exp, act = (expected.get("metadata") or {}).get(part) or {}, (actual.get("metadata") or {}).get(part) or {}
        if exp != act:
            out.append(f"metadata.{part}: backup {_show(exp)}, now {_show(act)}")
    return out


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _summary(err: KubeError) -> str:
    if err.status is None:
        return err.message
    return f"{err.status} {err.reason or ''}: {err.api_message}".replace(" :", ":")


def _verify(kube: CsiDriverApi, name: str, live: Mapping[str, Any], backup: Path, before: str | None, how: str) -> str | None:
    current = kube.get_csidriver(name)
    if current is None:
        raise CsiDriverUpdateError(
            f"CSIDriver {name} is gone right after it was {how}: something deleted it (the AKS add-on manager?)",
            CsiResult("failed", name, backup, before, None),
            hint=f"the original was saved to {backup}",
        )
    after = policy_of(current)
    problems = [] if after == TARGET_POLICY else [f"spec.fsGroupPolicy: {_show(after)}"]
    problems += differences(live, current)
    if problems:
        raise CsiDriverUpdateError(
            f"CSIDriver {name} was {how} but is not what was asked for: " + "; ".join(problems),
            CsiResult("failed", name, backup, before, after),
            hint=f"the original was saved to {backup}",
        )
    return after


def _restore(kube: CsiDriverApi, name: str, live: Mapping[str, Any], backup: Path, before: str | None, cause: KubeError) -> CsiDriverUpdateError:
    """The create of the copy failed after the delete: put the original back and say what happened."""
    why = _summary(cause)
    if not cause.already_exists:
        try:
            restored = kube.create_csidriver(restorable(live))
        except KubeError as e:
            if not e.already_exists:
                return CsiDriverUpdateError(
                    f"creating CSIDriver {name} with fsGroupPolicy {TARGET_POLICY} failed ({why}) and restoring the original "
                    f"failed too ({_summary(e)}): the cluster has no CSIDriver {name} now, so blob volumes will not mount",
                    CsiResult("failed", name, backup, before, None),
                    hint=f"re-create it from the backup {backup} (see the comment at its top)",
                )
        else:
            return CsiDriverUpdateError(
                f"creating CSIDriver {name} with fsGroupPolicy {TARGET_POLICY} failed ({why}); "
                f"the original driver was restored (fsGroupPolicy {policy_of(restored)})",
                CsiResult("restored-after-failure", name, backup, before, policy_of(restored)),
                hint=f"the original was saved to {backup}",
            )
    # "already exists": something re-created the driver inside the delete window.
    try:
        current = kube.get_csidriver(name)
    except KubeError:
        current = None
    return CsiDriverUpdateError(
        f"creating CSIDriver {name} with fsGroupPolicy {TARGET_POLICY} failed ({why}): something else re-created it "
        f"meanwhile (the AKS add-on manager?); its fsGroupPolicy is now {policy_of(current) or 'unknown'}",
        CsiResult("failed", name, backup, before, policy_of(current)),
        hint=f"the original was saved to {backup}; run the step again to see whether the change sticks",
    )
