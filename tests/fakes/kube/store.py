"""The object store behind the fake API server, with the API server's write semantics.

What it does like the real thing (because clients depend on it):

* create assigns ``uid``, ``resourceVersion`` (one cluster-wide counter, like etcd's revision),
  ``creationTimestamp`` and, for types that track it, ``generation: 1``; it applies server defaults,
  resets ``status`` of types with a status subresource, refuses a body that already carries a
  ``resourceVersion`` (500, as etcd storage does), a missing namespace (404) and a duplicate (409
  ``AlreadyExists``);
* update (PUT, and PATCH after the patch is applied) checks a non-empty ``resourceVersion`` against
  the stored one (409 ``Conflict``), keeps server-managed metadata, re-applies defaults, refuses changes
  to declared immutable fields (422 ``Invalid`` with ``details.causes``), ignores ``status`` on the main
  resource (and everything but ``status`` on ``/status``), does not bump ``resourceVersion`` when
  nothing changed and bumps ``generation`` when the spec changed;
* delete honours ``preconditions`` (uid, resourceVersion) and finalizers (the object then only gets a
  ``deletionTimestamp`` and goes when an update removes the last finalizer); a namespace takes its
  objects with it;
* list filters by namespace, label selector and field selector, and pages with ``limit``/``continue``.

Deliberate simplifications: deletion of pods/namespaces is immediate (no grace period, no
``Terminating`` phase that lingers), no watch, no server-side apply, no admission beyond the namespace
check, ``managedFields`` are never written.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .common import FieldError, KubeStatusError, success_status
from .patch import APPLY_TYPES, JSON_PATCH_TYPE, MERGE_TYPES, PatchError, json_patch, merge_patch
from .registry import Registry, ResourceType
from .selectors import SelectorError, field_values, matches_all, parse_field_selector, parse_label_selector

_MISSING = object()
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
#: Metadata only the server writes; an update cannot change it.
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
#: generateName suffix alphabet (the API server avoids vowels and look-alike characters).
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def get_path(obj: Any, dotted: str) -> Any:
    node = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = obj
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what ``generation`` tracks."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_rv(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out.get("metadata", {}).pop("resourceVersion", None)
    return out


class ObjectStore:
    """All objects of one fake cluster. Every public method takes :attr:`lock` itself."""

    def __init__(self, registry: Registry, *, clock: Callable[[], datetime] | None = None, first_resource_version: int = 1000) -> None:
        self.registry = registry
        self.lock = threading.RLock()
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._rv = first_resource_version
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._rng = random.Random()

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._rv)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _now(self) -> str:
        return self._clock().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str, str]:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _require(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise KubeStatusError.not_found(rt, name)
        return obj

    def _namespace_exists(self, namespace: str) -> bool:
        return ("", "namespaces", "", namespace) in self._objects

    @staticmethod
    def _apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
        for path, value in rt.defaults:
            if get_path(obj, path) is _MISSING:
                _set_path(obj, path, copy.deepcopy(value))

    @staticmethod
    def _check_body(rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise KubeStatusError.bad_request("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version is not None and api_version != rt.api_version:
            raise KubeStatusError.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
            )
        if kind is not None and kind != rt.kind:
            raise KubeStatusError.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict):
            raise KubeStatusError.bad_request("metadata must be an object")
        return copy.deepcopy(body)

    @staticmethod
    def _typed(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """apiVersion and kind first, like the API server's encoder."""
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        return {"apiVersion": rt.api_version, "kind": rt.kind, **rest}

    @staticmethod
    def _name_errors(rt: ResourceType, name: str) -> list[FieldError]:
        if not name:
            return [FieldError("metadata.name", "FieldValueRequired", "name or generateName is required")]
        if rt.name_rule == "label":
            if len(name) > 63:
                return [FieldError("metadata.name", "FieldValueInvalid", "must be no more than 63 characters", name)]
            if not _LABEL_RE.match(name):
                return [FieldError("metadata.name", "FieldValueInvalid", _LABEL_MSG, name)]
        else:
            if len(name) > 253:
                return [FieldError("metadata.name", "FieldValueInvalid", "must be no more than 253 characters", name)]
            if not _SUBDOMAIN_RE.match(name):
                return [FieldError("metadata.name", "FieldValueInvalid", _SUBDOMAIN_MSG, name)]
        return []

    # -- API operations --------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        with self.lock:
            obj = self._check_body(rt, body)
            meta = obj.setdefault("metadata", {})
            if rt.namespaced:
                assert namespace is not None
                if meta.get("namespace") and meta["namespace"] != namespace:
                    raise KubeStatusError.bad_request("the namespace of the provided object does not match the namespace sent on the request")
                meta["namespace"] = namespace
                if not self._namespace_exists(namespace):
                    raise KubeStatusError.not_found(self.registry.find("namespaces"), namespace)
            else:
                meta.pop("namespace", None)
            name = meta.get("name") or ""
            if not name and meta.get("generateName"):
                name = meta["generateName"] + "".join(self._rng.choice(_SUFFIX_CHARS) for _ in range(5))
            errors = self._name_errors(rt, name)
            if errors:
                raise KubeStatusError.invalid(rt, name, errors)
            if meta.get("resourceVersion"):
                raise KubeStatusError.internal("resourceVersion should not be set on objects to be created")
            key = self._key(rt, namespace, name)
            if key in self._objects:
                raise KubeStatusError.already_exists(rt, name)
            for k in (*_SERVER_META, "managedFields", "selfLink"):
                meta.pop(k, None)
            meta["name"] = name
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = self._now()
            if rt.tracks_generation:
                meta["generation"] = 1
            if rt.status_subresource:
                obj.pop("status", None)
            if rt.plural == "namespaces":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            self._apply_defaults(rt, obj)
            obj = self._typed(rt, obj)
            if not dry_run:
                meta["resourceVersion"] = self._next_rv()
                obj["metadata"] = meta
                self._objects[key] = obj
            return copy.deepcopy(obj)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._require(rt, namespace, name))

    def list_objects(self, rt: ResourceType, namespace: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        with self.lock:
            items = self._select(rt, namespace, query)
            list_meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
            start = 0
            token = query.get("continue")
            if token:
                try:
                    after = tuple(json.loads(base64.urlsafe_b64decode(token.encode())))
                except ValueError:
                    raise KubeStatusError.bad_request("continue key is not valid: illegal base64 data") from None
                start = next((i for i, o in enumerate(items) if self._sort_key(o) > after), len(items))
            limit = int(query.get("limit") or 0)
            page = items[start : start + limit] if limit > 0 else items[start:]
            if limit > 0 and start + limit < len(items):
                last = self._sort_key(page[-1])
                list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode()
                list_meta["remainingItemCount"] = len(items) - start - limit
            # Items of a list carry no apiVersion/kind of their own on the wire.
            out_items = [{k: v for k, v in copy.deepcopy(o).items() if k not in ("apiVersion", "kind")} for o in page]
            return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": list_meta, "items": out_items}

    @staticmethod
    def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace", ""), meta["name"])

    def _select(self, rt: ResourceType, namespace: str | None, query: Mapping[str, str]) -> list[dict[str, Any]]:
        try:
            labels = parse_label_selector(query.get("labelSelector"))
            field_keys = ("metadata.name", "metadata.namespace", *rt.field_selectors)
            fields = parse_field_selector(query.get("fieldSelector"), field_keys)
        except SelectorError as e:
            raise KubeStatusError.bad_request(str(e)) from None
        out = []
        for (group, plural, ns, _), obj in self._objects.items():
            if group != rt.group or plural != rt.plural:
                continue
            if rt.namespaced and namespace is not None and ns != namespace:
                continue
            if not matches_all(labels, obj["metadata"].get("labels") or {}):
                continue
            if fields and not matches_all(fields, field_values(obj, field_keys)):
                continue
            out.append(obj)
        return sorted(out, key=self._sort_key)

    def replace(
        self, rt: ResourceType, namespace: str | None, name: str, body: Any, *, status_only: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            old = self._require(rt, namespace, name)
            new = self._check_body(rt, body)
            self._check_identity(rt, namespace, name, new)
            return self._update(rt, old, new, status_only=status_only, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str | None,
        *,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        with self.lock:
            media = (content_type or "").split(";")[0].strip().lower()
            if media in APPLY_TYPES:
                raise KubeStatusError(415, "UnsupportedMediaType", "the fake Kubernetes API does not implement server-side apply")
            old = self._require(rt, namespace, name)
            if media in MERGE_TYPES:
                if not isinstance(body, dict):
                    raise KubeStatusError.bad_request("a merge patch must be a JSON object")
                patched = merge_patch(old, body)
            elif media == JSON_PATCH_TYPE:
                try:
                    patched = json_patch(old, body)
                except PatchError as e:
                    raise KubeStatusError(422, "Invalid", str(e)) from None
            else:
                raise KubeStatusError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{JSON_PATCH_TYPE}, application/merge-patch+json, application/strategic-merge-patch+json",
                )
            new = self._check_body(rt, patched)
            self._check_identity(rt, namespace, name, new)
            return self._update(rt, old, new, status_only=status_only, dry_run=dry_run)

    def _check_identity(self, rt: ResourceType, namespace: str | None, name: str, new: dict[str, Any]) -> None:
        meta = new.setdefault("metadata", {})
        body_name = meta.get("name")
        if body_name != name:
            raise KubeStatusError.bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise KubeStatusError.bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def _update(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, status_only: bool, dry_run: bool) -> dict[str, Any]:
        name = old["metadata"]["name"]
        old_meta = old["metadata"]
        rv = new.get("metadata", {}).get("resourceVersion")
        if rv and rv != old_meta.get("resourceVersion"):
            raise KubeStatusError.stale(rt, name)
        if status_only:
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            if rt.status_subresource:
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            meta = result.setdefault("metadata", {})
            errors: list[FieldError] = []
            if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
                errors.append(FieldError("metadata.uid", "FieldValueInvalid", "field is immutable", meta["uid"]))
            for meta_key in _SERVER_META:
                if meta_key in old_meta:
                    meta[meta_key] = copy.deepcopy(old_meta[meta_key])
                else:
                    meta.pop(meta_key, None)
            if rt.namespaced:
                meta["namespace"] = old_meta.get("namespace")
            meta.pop("managedFields", None)
            meta.pop("selfLink", None)
            self._apply_defaults(rt, result)
            for path in rt.immutable:
                before, after = get_path(old, path), get_path(result, path)
                if before != after:
                    errors.append(FieldError(path, "FieldValueInvalid", "field is immutable", None if after is _MISSING else after))
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    errors.append(FieldError("metadata.finalizers", "FieldValueForbidden", "no new finalizers can be added if the object is being deleted"))
            if errors:
                raise KubeStatusError.invalid(rt, name, errors)
        result = self._typed(rt, result)
        result["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
        if _without_rv(result) == _without_rv(old):
            return copy.deepcopy(old)  # a no-op write does not bump resourceVersion
        if rt.tracks_generation and _content(result) != _content(old):
            result["metadata"]["generation"] = int(old_meta.get("generation") or 0) + 1
        if dry_run:
            return result
        result["metadata"]["resourceVersion"] = self._next_rv()
        store_key = self._key(rt, old_meta.get("namespace"), name)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            self._remove(rt, store_key)
        else:
            self._objects[store_key] = result
        return copy.deepcopy(result)

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: Any = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            old = self._require(rt, namespace, name)
            meta = old["metadata"]
            options = options if isinstance(options, dict) else {}
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise KubeStatusError.conflict(
                    rt, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}"
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise KubeStatusError.conflict(
                    rt,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            key = self._key(rt, namespace, name)
            if meta.get("finalizers"):
                # Pending finalizers: the object stays, marked for deletion, until they are removed.
                result = copy.deepcopy(old)
                if not meta.get("deletionTimestamp"):
                    result["metadata"]["deletionTimestamp"] = self._now()
                    result["metadata"]["deletionGracePeriodSeconds"] = 0
                    if not dry_run:
                        result["metadata"]["resourceVersion"] = self._next_rv()
                        self._objects[key] = result
                return copy.deepcopy(result)
            if not dry_run:
                self._remove(rt, key)
            if not rt.returns_deleted_object:
                return success_status(rt, name, meta.get("uid"))
            body = copy.deepcopy(old)
            if rt.plural == "namespaces":
                body["metadata"]["deletionTimestamp"] = self._now()
                body.setdefault("status", {})["phase"] = "Terminating"
            return body

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, query: Mapping[str, str], *, dry_run: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            doomed = self._select(rt, namespace, query)
            for obj in doomed:
                self.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], dry_run=dry_run)
            items = [{k: v for k, v in copy.deepcopy(o).items() if k not in ("apiVersion", "kind")} for o in doomed]
            return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _remove(self, rt: ResourceType, key: tuple[str, str, str, str]) -> None:
        self._objects.pop(key, None)
        if rt.plural == "namespaces":
            ns = key[3]
            for other in [k for k in self._objects if k[2] == ns]:
                del self._objects[other]
            for log_key in [k for k in self._logs if k[0] == ns]:
                del self._logs[log_key]
        elif rt.plural == "pods" and not rt.group:
            for log_key in [k for k in self._logs if k[:2] == (key[2], key[3])]:
                del self._logs[log_key]

    def pod_log(self, namespace: str, name: str, query: Mapping[str, str]) -> str:
        with self.lock:
            pod = self._require(self.registry.find("pods"), namespace, name)
            containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            container = query.get("container")
            if container is None:
                if len(containers) > 1:
                    raise KubeStatusError.bad_request(
                        f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
                    )
                container = containers[0] if containers else None
            elif containers and container not in containers:
                raise KubeStatusError.bad_request(f"container {container} is not valid for pod {name}")
            since = query.get("sinceSeconds")
            if since is not None and not since.lstrip("-").isdigit():
                raise KubeStatusError.bad_request(f'unable to parse quantity "sinceSeconds": "{since}"')
            if since is not None and int(since) < 1:
                # ValidatePodLogOptions: errors.NewInvalid(Kind("PodLogOptions"), name, ...)
                raise KubeStatusError(422, "Invalid", f'PodLogOptions "{name}" is invalid: sinceSeconds: Invalid value: '
                                      f'{since}: must be greater than 0')
            previous = query.get("previous") in ("true", "1")
            text = self._logs.get((namespace, name, container, previous))
            if text is None:
                text = self._logs.get((namespace, name, None, previous))
            if text is None and previous:
                raise KubeStatusError.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            text = text or ""
            tail = query.get("tailLines")
            if tail is not None:
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-int(tail) :]) if int(tail) > 0 else ""
            limit = query.get("limitBytes")
            if limit is not None:  # the first bytes of what would be sent
                text = text.encode()[: int(limit)].decode("utf-8", "ignore")
            return text

    # -- test back doors -------------------------------------------------------------------------
    def seed(self, obj: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Store ``obj`` as if it had been created long ago (status and all), replacing any object
        of that name. Fills in missing uid/creationTimestamp/generation, assigns a fresh
        resourceVersion and, for a namespaced object, creates its namespace if needed."""
        with self.lock:
            rt = self.registry.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            if rt is None:
                raise KeyError(f"the fake Kubernetes API has no type {obj.get('apiVersion')}/{obj.get('kind')}")
            new = copy.deepcopy(dict(obj))
            meta = new.setdefault("metadata", {})
            if not meta.get("name"):
                raise ValueError("a seeded object needs metadata.name")
            namespace: str | None = None
            if rt.namespaced:
                namespace = meta.setdefault("namespace", "default")
                if not self._namespace_exists(namespace):
                    self.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            else:
                meta.pop("namespace", None)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self._now())
            if rt.tracks_generation:
                meta.setdefault("generation", 1)
            if rt.plural == "namespaces":
                meta.setdefault("labels", {}).setdefault("kubernetes.io/metadata.name", meta["name"])
            if defaults:
                self._apply_defaults(rt, new)
            meta["resourceVersion"] = self._next_rv()
            new = self._typed(rt, new)
            self._objects[self._key(rt, namespace, meta["name"])] = new
            return copy.deepcopy(new)

    def peek(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get(self._key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, rt: ResourceType, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for o in self._select(rt, namespace, {})]

    def set_log(self, namespace: str, pod: str, text: str, container: str | None = None, *, previous: bool = False) -> None:
        with self.lock:
            self._logs[(namespace, pod, container, previous)] = text

