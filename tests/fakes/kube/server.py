"""A fake Kubernetes API server for the official ``kubernetes`` Python client.

It serves HTTPS (default) or HTTP on 127.0.0.1 at a random port and writes a kubeconfig that the client
loads like any other: the cluster's CA inline (``certificate-authority-data``, a throw-away CA made with
``trustme``), a bearer-token user and a context. Nothing in the environment has to change, and the
code under test goes through the client's real kubeconfig loading, auth, TLS and error handling.

Served: ``/version`` (configurable ``gitVersion``), health endpoints, discovery (``/api``, ``/apis``,
resource lists), and the resource paths of every type in the :class:`~.registry.Registry` (core ``/api/v1``
and ``/apis/<group>/<version>``, namespaced and cluster-scoped; ``status`` subresources; pod ``log``).
Semantics are in :mod:`.store`; what controllers do to status in :mod:`.controllers`; fault injection in :mod:`.faults`. Each request is recorded in
:attr:`FakeKube.requests` with its Kubernetes verb and target, so tests can assert exact sequences.
"""

from __future__ import annotations

import base64
import copy
import secrets
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

import yaml

from ..base.server import BAD_BODY, FakeServer, Reply
from .common import KubeStatusError, RequestRecord
from .controllers import Controllers
from .faults import Faults
from .registry import Registry, ResourceType, default_types, parse_minor
from .store import ObjectStore

_HEALTH = frozenset({"healthz", "livez", "readyz"})
_UNAUTHORIZED = KubeStatusError(401, "Unauthorized", "Unauthorized")


@dataclass
class Route:
    """Where a request goes. ``kind``: version | health | root | discovery | resource | unknown.

    Discovery: no group = ``/apis``; group ``""`` without version = ``/api``; a group = ``/apis/<g>``;
    group and version = that group version's resource list.
    """

    kind: str
    rt: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    error: KubeStatusError | None = None


class FakeKube(FakeServer):
    """A fake Kubernetes API server. Use as a context manager (or ``start()``/``stop()``)::

        with FakeKube(git_version="v1.28.5") as fake:
            fake.write_kubeconfig(tmp_path / "kubeconfig", "aks")
            fake.seed({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", ...})

    ``immutable_fields`` overrides the immutable field set of resource types, by plural
    (``{"csidrivers": ["spec.attachRequired"]}``); by default CSIDriver follows ``git_version``
    (``fsGroupPolicy`` is immutable before 1.29).
    """

    name = "fake-kube"
    record_class = RequestRecord
    collapse_slashes = False
    error_types = (KubeStatusError,)

    def __init__(
        self,
        *,
        git_version: str = "v1.28.5",
        tls: bool = True,
        token: str | None = None,
        immutable_fields: Mapping[str, Iterable[str]] | None = None,
        resource_types: Iterable[ResourceType] = (),
        namespaces: Iterable[str] = ("default", "kube-system", "kube-public", "kube-node-lease"),
        ca_dir: Path | str | None = None,
    ) -> None:
        parse_minor(git_version)  # fail early on a bad version
        super().__init__(tls=tls, ca_dir=ca_dir)
        self.git_version = git_version
        self.token = token or f"fake-kube-{secrets.token_hex(12)}"
        self.registry = Registry(default_types(git_version))
        for rt in resource_types:
            self.registry.add(rt)
        for name, fields in (immutable_fields or {}).items():
            self.registry.set_immutable(name, fields)
        self.store = ObjectStore(self.registry)
        for ns in namespaces:
            self.store.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.faults = Faults()
        #: The simulated controllers (claim binding, rollouts, load balancers); see :mod:`.controllers`.
        self.controllers = Controllers()

    # -- kubeconfig ------------------------------------------------------------------------------
    def kubeconfig_dict(self, context: str = "fake", *, namespace: str = "default") -> dict[str, Any]:
        if not self.url:
            raise RuntimeError("start the fake before asking for its kubeconfig")
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        user = f"{context}-user"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": user, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": user, "namespace": namespace}}],
            "current-context": context,
            "preferences": {},
        }

    def kubeconfig_text(self, context: str = "fake") -> str:
        """A kubeconfig (YAML) with one cluster, one bearer-token user and the ``context``."""
        return str(yaml.safe_dump(self.kubeconfig_dict(context), sort_keys=False))

    def write_kubeconfig(self, path: Path | str, context: str = "fake") -> Path:
        """Write :meth:`kubeconfig_text` to ``path`` (mode 0600, as kubectl keeps it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig_text(context))
        path.chmod(0o600)
        return path

    # -- test conveniences -----------------------------------------------------------------------
    def seed(self, obj: Mapping[str, Any], *, defaults: bool = True) -> dict[str, Any]:
        """Store an object directly (no request recorded); see :meth:`.store.ObjectStore.seed`."""
        return self.store.seed(obj, defaults=defaults)

    def get_object(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The stored object (a copy) or ``None``; ``resource`` = plural, qualified plural or kind."""
        rt = self.registry.find(resource)
        return self.store.peek(rt, namespace if rt.namespaced else None, name)

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.objects(self.registry.find(resource), namespace)

    def set_pod_log(self, namespace: str, pod: str, text: str, container: str | None = None, *, previous: bool = False) -> None:
        """What ``GET .../pods/{pod}/log`` answers (for ``container``, or for any container; with
        ``previous``, what ``?previous=true`` answers: the log of the container's last terminated run)."""
        self.store.set_log(namespace, pod, text, container, previous=previous)

    def register(self, rt: ResourceType) -> None:
        self.registry.add(rt)

    def set_immutable(self, resource: str, fields: Iterable[str]) -> None:
        self.registry.set_immutable(resource, fields)

    def writes(self) -> list[RequestRecord]:  # type: ignore[override]
        """Every create/update/patch/delete request, whatever its answer (a refused write was still tried)."""
        return self.requests.writes(include_faulted=True)

    def calls(self, *, resource: str | None = None) -> list[tuple[str, str, int | None]]:
        """``(verb, target, status)`` of every API request, in order; e.g.
        ``("patch", "csidrivers/blob.csi.azure.com", 422)``."""
        return [r.summary() for r in self.requests if resource is None or r.resource == resource]

    def version_info(self) -> dict[str, str]:
        major, minor = parse_minor(self.git_version)
        return {
            "major": str(major),
            "minor": str(minor),
            "gitVersion": self.git_version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z",
            "goVersion": "go1.21.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # -- routing ---------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route:
        segs = [unquote(s) for s in path.split("/") if s]
        if not segs:
            return Route("root")
        if segs == ["version"]:
            return Route("version")
        if len(segs) == 1 and segs[0] in _HEALTH:
            return Route("health")
        gvs = self.registry.group_versions()
        if segs[0] == "api":
            if len(segs) == 1:
                return Route("discovery", group="")  # /api: the core versions
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis":
            if len(segs) == 1:
                return Route("discovery")  # /apis: the group list
            if segs[1] not in gvs or not segs[1]:
                return Route("unknown")
            if len(segs) == 2:
                return Route("discovery", group=segs[1])
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return Route("unknown")
        if group not in gvs or version not in gvs[group]:
            return Route("unknown")
        if not rest:
            return Route("discovery", group=group, version=version)
        return self._resource_route(method, group, version, rest, query)

    def _resource_route(self, method: str, group: str, version: str, rest: list[str], query: Mapping[str, str]) -> Route:
        namespace: str | None = None
        # /namespaces/{ns}/{plural}/... unless {plural} is no resource (then it is /namespaces/{name}/status).
        in_namespace = self.registry.lookup(group, version, rest[2]) if rest[0] == "namespaces" and len(rest) >= 3 else None
        if in_namespace is not None:
            rt = in_namespace
            if not rt.namespaced:
                return Route("resource", group=group, error=KubeStatusError.resource_not_found())
            namespace, tail = rest[1], rest[3:]
        else:
            found = self.registry.lookup(group, version, rest[0])
            tail = rest[1:]
            if found is None:
                return Route("resource", group=group, error=KubeStatusError.resource_not_found())
            rt = found
            if rt.namespaced and tail:  # a named namespaced object needs its namespace in the path
                return Route("resource", rt=rt, group=group, error=KubeStatusError.resource_not_found())
        name = tail[0] if tail else None
        sub = tail[1] if len(tail) > 1 else None
        r = Route("resource", rt=rt, namespace=namespace, name=name, subresource=sub, group=group, version=version)
        if len(tail) > 2 or (sub is not None and not ((sub == "status" and rt.status_subresource) or sub in rt.subresources)):
            r.error = KubeStatusError.resource_not_found()
            return r
        if name is None:
            watch = query.get("watch") in ("true", "1")
            all_namespaces = rt.namespaced and namespace is None
            r.verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(method)
            if all_namespaces and r.verb in ("create", "deletecollection"):
                r.verb = None
        elif sub == "log":
            r.verb = "get" if method == "GET" else None
        else:
            r.verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": None if sub else "delete"}.get(method)
        if r.verb is None:
            r.error = KubeStatusError.method_not_allowed()
        return r

    # -- request processing (handler threads) ----------------------------------------------------
    _route = route

    def _record(self, route: Route, request_headers: Message, **fields: Any) -> RequestRecord:
        rt = route.rt
        return self.requests.new(
            **fields,
            content_type=request_headers.get("Content-Type"),
            verb=route.verb,
            group=rt.group if rt is not None else route.group,
            resource=rt.plural if rt is not None else None,
            namespace=route.namespace,
            name=route.name,
            subresource=route.subresource,
        )

    def _refuse(self, rec: RequestRecord, route: Route, authorization: str | None) -> Reply | None:
        if route.kind == "health":
            return Reply(200, "ok")
        if route.kind != "version" and not self._authorized(authorization):
            return _UNAUTHORIZED.reply()
        return None

    def _handle(self, rec: RequestRecord, route: Route, body: Any) -> Reply:
        if route.kind == "version":
            return Reply(200, self.version_info())
        if route.kind == "unknown":
            return Reply(404, "404 page not found\n")
        if route.kind in ("root", "discovery"):
            return Reply(200, self._discovery(route))
        if route.error is not None:
            raise route.error
        with self.store.lock:
            self.controllers.tick(self.store)
        return self._resource(rec, route, body)

    def _crash_reply(self) -> Reply:
        return KubeStatusError.internal("the fake Kubernetes API crashed; see FakeKube.internal_errors").reply()

    def _reply_headers(self, request_headers: Message, reply: Reply) -> dict[str, str]:
        return {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private"}

    def _authorized(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.token

    def _resource(self, rec: RequestRecord, route: Route, body: Any) -> Reply:
        rt, ns, name, verb = route.rt, route.namespace, route.name, route.verb
        assert rt is not None
        query = rec.query
        dry = query.get("dryRun")
        if dry is not None and dry != "All":
            raise KubeStatusError.bad_request(f'Invalid dry run value: "{dry}"; supported values: "All"')
        dry_run = dry == "All"
        if body is BAD_BODY and not (verb == "patch"):
            raise KubeStatusError.bad_request("the body of the request could not be decoded as JSON")
        store = self.store
        if verb == "list":
            return Reply(200, store.list_objects(rt, ns, query))
        if verb == "watch":
            raise KubeStatusError.bad_request("the fake Kubernetes API does not implement watch")
        if verb == "create":
            return Reply(201, store.create(rt, ns, body, dry_run=dry_run))
        if verb == "deletecollection":
            return Reply(200, store.delete_collection(rt, ns, query, dry_run=dry_run))
        assert name is not None
        if verb == "get":
            if route.subresource == "log":
                assert ns is not None
                return Reply(200, store.pod_log(ns, name, query))
            return Reply(200, store.get(rt, ns, name))
        if verb == "update":
            return Reply(200, store.replace(rt, ns, name, body, status_only=route.subresource == "status", dry_run=dry_run))
        if verb == "patch":
            patch_body = None if body is BAD_BODY else body
            if body is BAD_BODY and "apply-patch" not in (rec.content_type or ""):
                raise KubeStatusError.bad_request("the body of the request could not be decoded as JSON")
            return Reply(
                200,
                store.patch(rt, ns, name, patch_body, rec.content_type, status_only=route.subresource == "status", dry_run=dry_run),
            )
        if verb == "delete":
            return Reply(200, store.delete(rt, ns, name, body, dry_run=dry_run))
        raise KubeStatusError.method_not_allowed()

    def _discovery(self, route: Route) -> dict[str, Any]:
        gvs = self.registry.group_versions()
        if route.kind == "root":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
            paths += [f"/apis/{g}/{v}" for g, vs in gvs.items() if g for v in vs] + [f"/apis/{g}" for g in gvs if g]
            return {"paths": sorted(paths)}
        if route.group is None:
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g, vs) for g, vs in gvs.items() if g]}
        if route.group == "" and route.version is None:
            host = self.url.split("://", 1)[-1]
            return {
                "kind": "APIVersions",
                "versions": gvs.get("", []),
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        if route.version is None:
            assert route.group is not None
            return {"kind": "APIGroup", "apiVersion": "v1", **self._group(route.group, gvs[route.group])}
        group, version = route.group or "", route.version
        resources: list[dict[str, Any]] = []
        for rt in self.registry.in_group_version(group, version):
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"],
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            resources.append(entry)
            if rt.status_subresource:
                resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]})
            for sub in rt.subresources:
                resources.append({"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get"]})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    @staticmethod
    def _group(group: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": copy.deepcopy(entries[0])}
