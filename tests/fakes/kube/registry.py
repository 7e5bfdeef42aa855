"""The resource types the fake API server knows, and what is special about each.

The store is generic; everything type-specific it needs is declared here in a :class:`ResourceType`:
URL coordinates (group, version, plural), kind, scope, which fields are immutable, whether ``status``
is a subresource, server-side defaults, and what a DELETE answers. A test can register more types
(``FakeKube.register``) or change the immutable set of one (``FakeKube.set_immutable``).

CSIDriver immutability follows the real API server by version (see :func:`csidriver_immutable_fields`):
that is the behaviour jhubctl's fsGroupPolicy step has to cope with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    #: Dotted field paths that may not change on update (422 ``field is immutable``).
    immutable: tuple[str, ...] = ()
    #: ``status`` is a subresource: the main PUT/PATCH ignores it, ``.../status`` changes only it,
    #: and a create resets it to the status defaults.
    status_subresource: bool = False
    #: ``(dotted path, value)`` applied when the path is missing, on create and on every update
    #: (the API server defaults the decoded body before it validates).
    defaults: tuple[tuple[str, Any], ...] = ()
    #: DELETE answers the deleted object (most types); ``False`` = a ``Status`` with ``Success``.
    returns_deleted_object: bool = True
    #: ``metadata.generation`` starts at 1 and grows when anything but metadata/status changes.
    tracks_generation: bool = False
    #: Field selector keys beyond ``metadata.name`` / ``metadata.namespace``.
    field_selectors: tuple[str, ...] = ()
    #: ``"subdomain"`` (RFC 1123 DNS subdomain) or ``"label"`` (RFC 1123 DNS label) name rule.
    name_rule: str = "subdomain"
    short_names: tuple[str, ...] = ()
    #: Extra subresources answered by the fake (``log`` for pods).
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_resource(self) -> str:
        """``csidrivers.storage.k8s.io``; just ``pods`` in the core group (as in error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def with_immutable(self, fields: Iterable[str]) -> "ResourceType":
        return replace(self, immutable=tuple(fields))


def parse_minor(git_version: str) -> tuple[int, int]:
    """``v1.28.5`` -> (1, 28). Vendor suffixes (``v1.28.5-eks-1``, minor ``28+``) are tolerated."""
    m = re.match(r"^v?(\d+)\.(\d+)", git_version)
    if not m:
        raise ValueError(f"not a Kubernetes version: {git_version!r}")
    return int(m.group(1)), int(m.group(2))


def csidriver_immutable_fields(git_version: str) -> tuple[str, ...]:
    """The CSIDriver spec fields a given API server version refuses to change.

    ``attachRequired`` and ``volumeLifecycleModes`` are always immutable; ``podInfoOnMount`` and
    ``fsGroupPolicy`` became mutable in 1.29; ``storageCapacity`` in 1.23 (API reference of
    CSIDriverSpec). ``tokenRequests``, ``requiresRepublish`` and ``seLinuxMount`` are mutable.
    """
    major, minor = parse_minor(git_version)
    fields = ["spec.attachRequired", "spec.volumeLifecycleModes"]
    if (major, minor) < (1, 29):
        fields += ["spec.podInfoOnMount", "spec.fsGroupPolicy"]
    if (major, minor) < (1, 23):
        fields.append("spec.storageCapacity")
    return tuple(fields)


def default_types(git_version: str = "v1.28.5") -> list[ResourceType]:
    """The built-in types jhubctl touches (and a few its tests seed)."""
    return [
        ResourceType(
            "", "v1", "namespaces", "Namespace", False,
            status_subresource=True, defaults=(("status.phase", "Active"),), name_rule="label", short_names=("ns",),
            field_selectors=("status.phase",),
        ),
        ResourceType(
            "", "v1", "secrets", "Secret", True,
            immutable=("type",), defaults=(("type", "Opaque"),), returns_deleted_object=False, field_selectors=("type",),
        ),
        ResourceType("", "v1", "configmaps", "ConfigMap", True, returns_deleted_object=False, short_names=("cm",)),
        ResourceType(
            "", "v1", "services", "Service", True,
            immutable=("spec.clusterIP",), status_subresource=True, defaults=(("spec.type", "ClusterIP"),),
            name_rule="label", short_names=("svc",),
        ),
        ResourceType(
            "", "v1", "pods", "Pod", True,
            status_subresource=True, defaults=(("status.phase", "Pending"),), tracks_generation=True,
            field_selectors=("status.phase", "spec.nodeName", "spec.serviceAccountName"), short_names=("po",),
            subresources=("log",),
        ),
        ResourceType(
            "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True,
            immutable=("spec.accessModes", "spec.storageClassName", "spec.volumeMode", "spec.selector"),
            status_subresource=True, defaults=(("status.phase", "Pending"),), short_names=("pvc",),
        ),
        ResourceType(
            "", "v1", "persistentvolumes", "PersistentVolume", False,
            immutable=("spec.csi.driver", "spec.csi.volumeHandle"),
            status_subresource=True, defaults=(("status.phase", "Pending"),), short_names=("pv",),
        ),
        ResourceType("", "v1", "nodes", "Node", False, status_subresource=True, short_names=("no",)),
        ResourceType("", "v1", "endpoints", "Endpoints", True, short_names=("ep",)),
        ResourceType(
            "", "v1", "events", "Event", True, returns_deleted_object=False, short_names=("ev",),
            field_selectors=(
                "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
                "reason", "type", "source",
            ),
        ),
        ResourceType(
            "apps", "v1", "deployments", "Deployment", True,
            immutable=("spec.selector",), status_subresource=True, tracks_generation=True, short_names=("deploy",),
        ),
        ResourceType(
            "storage.k8s.io", "v1", "csidrivers", "CSIDriver", False,
            immutable=csidriver_immutable_fields(git_version),
            # What the API server fills in when a manifest leaves them out (SetDefaults_CSIDriver).
            defaults=(
                ("spec.attachRequired", True),
                ("spec.podInfoOnMount", False),
                ("spec.requiresRepublish", False),
                ("spec.storageCapacity", False),
                ("spec.fsGroupPolicy", "ReadWriteOnceWithFSType"),
                ("spec.volumeLifecycleModes", ["Persistent"]),
            ),
            tracks_generation=True,
            short_names=("csid",),
        ),
        ResourceType(
            "storage.k8s.io", "v1", "storageclasses", "StorageClass", False,
            immutable=("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
            defaults=(("reclaimPolicy", "Delete"), ("volumeBindingMode", "Immediate")),
            short_names=("sc",),
        ),
    ]


class Registry:
    """Resource types by URL coordinates and by kind. Not thread-safe: configure before serving."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self._types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def find(self, name: str) -> ResourceType:
        """By plural (``csidrivers``), qualified plural (``csidrivers.storage.k8s.io``) or kind."""
        for rt in self._types.values():
            if name in (rt.plural, rt.qualified_resource, rt.kind, rt.qualified_kind):
                return rt
        raise KeyError(f"the fake Kubernetes API has no resource type {name!r}")

    def set_immutable(self, name: str, fields: Iterable[str]) -> None:
        self.add(self.find(name).with_immutable(fields))

    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for group, version, _ in self._types:
            versions = out.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for (g, v, _), rt in self._types.items() if g == group and v == version]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))
