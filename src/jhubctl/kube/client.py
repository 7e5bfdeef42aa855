"""The one adapter between jhubctl and the official ``kubernetes`` client.

Why an adapter, and why it looks like this:

* **Import cost.** ``kubernetes`` takes ~0.4 s to import; the CLI must answer ``--help`` at once. Nothing
  here imports it at module level: :meth:`KubeClient.from_kubeconfig` does, when a command needs a cluster.
* **Plain dicts with the API's own keys.** Objects go in and out as the JSON the API server speaks
  (camelCase), never as the client's models. The models would lose data: since client 37 they are
  pydantic models that *reject* a body with a field the client does not know (``extra="forbid"``), and
  every version silently *drops* unknown fields when it reads. A CSIDriver from a newer cluster than the
  client (fields such as ``nodeAllocatableUpdatePeriodSeconds`` keep being added) would come back
  incomplete, and a backup or a re-created copy would lose those fields. So requests go through the
  client's ``ApiClient`` (which still does the kubeconfig, TLS, token refresh and proxy work) with raw
  JSON bodies, and answers are parsed as JSON.
* **One error type.** Every failure (an API Status, an unreachable server, an unusable kubeconfig) becomes
  a :class:`KubeError`: a :class:`~jhubctl.errors.JhubctlError` printed as one line with the HTTP status,
  the Status ``reason`` and its ``message``, and carrying ``details.causes`` for callers that must know
  which field the server refused.
* **Kinds, not models.** One set of verbs (get, create, replace, patch, delete, paginated list, apply, pod
  log) serves every kind in :data:`RESOURCES`; a kind is a path, nothing more.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import quote

from jhubctl.errors import ExitCode, JhubctlError

if TYPE_CHECKING:  # pragma: no cover - typing only; never imported at run time here
    from kubernetes.client import ApiClient

DEFAULT_TIMEOUT = 30.0
_MERGE_PATCH = "application/merge-patch+json"
_MAX_MESSAGE = 600


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KubeError(JhubctlError):
    """A Kubernetes API call failed. ``status`` is the HTTP status (``None`` when the server was not
    reached), ``reason`` the Status reason (``NotFound``, ``AlreadyExists``, ``Conflict``, ``Invalid`` ...),
    ``api_message`` the Status message and ``details`` the Status details (``causes`` for a 422)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str | None = None,
        api_message: str = "",
        details: Mapping[str, Any] | None = None,
        hint: str | None = None,
        exit_code: ExitCode | None = None,
    ) -> None:
        super().__init__(message, hint=hint, exit_code=exit_code)
        self.status = status
        self.reason = reason
        self.api_message = api_message
        self.details: dict[str, Any] = dict(details or {})

    @property
    def causes(self) -> list[dict[str, Any]]:
        causes = self.details.get("causes")
        return [c for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def conflict(self) -> bool:
        """The optimistic-concurrency kind of 409 (stale resourceVersion, failed precondition)."""
        return self.status == 409 and self.reason != "AlreadyExists"

    def is_immutable(self, field_path: str | None = None) -> bool:
        """A 422 saying ``field_path`` (or any field) is immutable."""
        if self.status != 422:
            return False
        return any(
            "immutable" in str(c.get("message", "")) and (field_path is None or c.get("field") == field_path) for c in self.causes
        )

    @classmethod
    def from_response(cls, action: str, status: int, http_reason: str | None, body: bytes | str | None) -> KubeError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        reason, message, details = http_reason or "", "", None
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            reason = str(parsed.get("reason") or reason)
            message = str(parsed.get("message") or "")
            details = parsed.get("details") if isinstance(parsed.get("details"), dict) else None
        elif text:
            message = text.strip().splitlines()[0]  # a proxy's or gateway's page, not a Status
        api_message = _one_line(message)
        line = f"{action} failed: {status} {reason}".rstrip()
        if api_message:
            line += f": {api_message}"
        return cls(line, status=status, reason=reason or None, api_message=api_message, details=details, hint=_HINTS.get(status))


_HINTS = {
    401: "the cluster refused the kubeconfig's credentials: fetch them again (az aks get-credentials)",
    403: "the kubeconfig's user lacks the RBAC permission for this: use a cluster-admin context",
}


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    major: int
    minor: int
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def __str__(self) -> str:
        return self.git_version


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    kind: str
    api: str
    plural: str
    namespaced: bool


#: The kinds jhubctl reads or writes.
RESOURCES = {r.kind: r for r in (
    Resource("Namespace", "/api/v1", "namespaces", False),
    Resource("Node", "/api/v1", "nodes", False),
    Resource("Secret", "/api/v1", "secrets", True),
    Resource("Service", "/api/v1", "services", True),
    Resource("Pod", "/api/v1", "pods", True),
    Resource("Event", "/api/v1", "events", True),
    Resource("Endpoints", "/api/v1", "endpoints", True),
    Resource("PersistentVolume", "/api/v1", "persistentvolumes", False),
    Resource("PersistentVolumeClaim", "/api/v1", "persistentvolumeclaims", True),
    Resource("Deployment", "/apis/apps/v1", "deployments", True),
    Resource("StorageClass", "/apis/storage.k8s.io/v1", "storageclasses", False),
    Resource("CSIDriver", "/apis/storage.k8s.io/v1", "csidrivers", False),
)}


@dataclass(frozen=True)
class Applied:
    """What :meth:`KubeClient.apply` did: ``created``, ``updated`` (``fields`` differed) or ``unchanged``."""

    action: str
    object: dict[str, Any]
    fields: tuple[str, ...] = ()


def _path(kind: str, namespace: str | None, name: str | None = None) -> str:
    resource = RESOURCES[kind]
    if resource.namespaced and not namespace:
        raise ValueError(f"{kind} is namespaced: a namespace is needed")
    where = f"{resource.api}/namespaces/{quote(namespace, safe='')}" if resource.namespaced and namespace else resource.api
    return f"{where}/{resource.plural}" + (f"/{quote(name, safe='')}" if name is not None else "")


def _log_query(container: str | None, previous: bool, tail: int | None, since: int | None) -> list[tuple[str, str]]:
    pairs = (("container", container), ("previous", "true" if previous else None),
             ("tailLines", None if tail is None else str(tail)), ("sinceSeconds", None if since is None else str(since)))
    return [(k, v) for k, v in pairs if v is not None]


def _label(kind: str, name: str, namespace: str | None) -> str:
    return f"{kind} {namespace}/{name}" if namespace and RESOURCES[kind].namespaced else f"{kind} {name}"


def drift(want: Any, have: Any, path: str = "") -> list[str]:
    """Dotted paths where ``have`` lacks what ``want`` sets: maps compare key by key (extra keys in
    ``have`` are the server's), lists and scalars exactly (Kubernetes lists are ordered and case matters)."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in want.items():
            out += drift(value, have.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return [path]
        if not any(isinstance(item, Mapping) for item in want):
            return [] if want == have else [path]
        return [p for i, (w, h) in enumerate(zip(want, have, strict=True)) for p in drift(w, h, f"{path}[{i}]")]
    return [] if want == have else [path]


def _as_object(answer: Any, action: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise KubeError(f"{action}: the API server answered something that is not an object")
    return answer


def _version_number(text: Any) -> int:
    m = re.match(r"\d+", str(text or ""))  # "28+" on some managed clusters
    return int(m.group(0)) if m else 0


class KubeClient:
    """jhubctl's view of one cluster. Build it with :meth:`from_kubeconfig`; use as a context manager
    (or call :meth:`close`) to release the connection pool."""

    def __init__(self, api_client: ApiClient, *, context: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Typed as Any on purpose: the generated client's signatures differ between major versions.
        self._api: Any = api_client
        self.context = context
        self.timeout = timeout

    @classmethod
    def from_kubeconfig(cls, path: Path | str, context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> KubeClient:
        """Load ``path`` (the file ``az aks get-credentials`` writes) with ``context`` or its current context.

        Refreshed credentials are not written back (``persist_config=False``): jhubctl never edits a
        kubeconfig it was only given to read.
        """
        path = Path(path).expanduser()
        where = f"kubeconfig {path}" + (f" (context {context})" if context else "")
        if not path.is_file():
            raise KubeError(f"{where}: no such file", exit_code=ExitCode.USAGE)
        from kubernetes import config as kube_config  # heavy: imported only when a cluster is needed

        load: Any = kube_config.new_client_from_config
        try:
            api = load(config_file=str(path), context=context, persist_config=False)
        except Exception as e:  # ConfigException, YAML errors, bad base64 ...: all "this file is unusable"
            raise KubeError(f"cannot use {where}: {_one_line(str(e) or type(e).__name__)}", exit_code=ExitCode.USAGE) from e
        return cls(api, context=context, timeout=timeout)

    @property
    def server(self) -> str:
        """The API server URL from the kubeconfig."""
        return str(self._api.configuration.host)

    def close(self) -> None:
        close = getattr(self._api, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what jhubctl uses -----------------------------------------------------------------------
    def server_version(self) -> ServerVersion:
        info = self._request("GET", "/version", action="reading the server version")
        if not isinstance(info, dict) or not info.get("gitVersion"):
            raise KubeError(f"the API server at {self.server} answered /version without a gitVersion")
        git_version = str(info["gitVersion"])
        major, minor = _version_number(info.get("major")), _version_number(info.get("minor"))
        if not major:  # some distributions leave major/minor empty: parse gitVersion instead
            m = re.match(r"^v?(\d+)\.(\d+)", git_version)
            if m:
                major, minor = int(m.group(1)), int(m.group(2))
        return ServerVersion(git_version, major, minor, raw=info)

    def get_csidriver(self, name: str) -> dict[str, Any] | None:
        """The CSIDriver object as the API returns it, or ``None`` if there is none of that name."""
        return self.get("CSIDriver", name)

    def create_csidriver(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.create("CSIDriver", body)

    def patch_csidriver(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """JSON merge patch (RFC 7386). Put ``metadata.resourceVersion`` in the patch to make it
        conditional: the server then answers 409 if the object changed since it was read."""
        return self.patch("CSIDriver", name, patch)

    def delete_csidriver(self, name: str, *, uid: str | None = None, resource_version: str | None = None) -> dict[str, Any] | None:
        """Delete it; with ``uid``/``resource_version`` only if it is still exactly that object (409 otherwise).

        Returns what the server answers: the deleted object (or a Status).
        """
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        answer = self._request("DELETE", _path("CSIDriver", None, name), action=f"deleting CSIDriver {name}", body=options)
        return answer if isinstance(answer, dict) else None

    # -- any resource jhubctl uses ---------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as the API returns it, or ``None`` if there is none of that name."""
        action = f"reading {_label(kind, name, namespace)}"
        try:
            return _as_object(self._request("GET", _path(kind, namespace, name), action=action), action)
        except KubeError as e:
            if e.not_found:
                return None
            raise

    def create(self, kind: str, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        name = (body.get("metadata") or {}).get("name", "")
        action = f"creating {_label(kind, name, namespace)}"
        return _as_object(self._request("POST", _path(kind, namespace), action=action, body=dict(body)), action)

    def replace(self, kind: str, name: str, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """PUT: the whole object; with ``metadata.resourceVersion`` it fails (409) if someone changed it meanwhile."""
        action = f"replacing {_label(kind, name, namespace)}"
        return _as_object(self._request("PUT", _path(kind, namespace, name), action=action, body=dict(body)), action)

    def patch(self, kind: str, name: str, patch: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """JSON merge patch (RFC 7386): maps are merged, lists and scalars replaced, ``None`` removes."""
        action = f"patching {_label(kind, name, namespace)}"
        answer = self._request("PATCH", _path(kind, namespace, name), action=action, body=dict(patch), content_type=_MERGE_PATCH)
        return _as_object(answer, action)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete it; ``False`` if it was already gone."""
        try:
            self._request("DELETE", _path(kind, namespace, name), action=f"deleting {_label(kind, name, namespace)}")
        except KubeError as e:
            if e.not_found:
                return False
            raise
        return True

    def list_objects(
        self, kind: str, namespace: str | None = None, *, labels: str | None = None, fields: str | None = None,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every matching object, page by page (``limit``/``continue``), so a big cluster is never one answer."""
        query: list[tuple[str, str]] = [("limit", str(page_size))]
        if labels:
            query.append(("labelSelector", labels))
        if fields:
            query.append(("fieldSelector", fields))
        token = None
        action = f"listing {RESOURCES[kind].plural}" + (f" in namespace {namespace}" if namespace else "")
        while True:
            page = _as_object(
                self._request("GET", _path(kind, namespace), action=action,
                              query=[*query, *((("continue", token),) if token else ())]),
                action,
            )
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def log(self, pod: str, namespace: str, *, container: str | None = None, previous: bool = False, tail: int | None = None,
            since: int | None = None, limit_bytes: int | None = None) -> str:
        """A container's log (``previous``: of its last terminated run, what a crash loop left behind;
        ``since``: only the last that many seconds; ``limit_bytes``: only that much from the start)."""
        query = _log_query(container, previous, tail, since)
        if limit_bytes is not None:
            query.append(("limitBytes", str(limit_bytes)))
        answer = self._request("GET", f"{_path('Pod', namespace, pod)}/log", action=f"reading the log of pod {namespace}/{pod}",
                               query=query, raw=True)
        return answer if isinstance(answer, str) else ""

    def follow_log(self, pod: str, namespace: str, *, container: str | None = None, tail: int | None = None,
                   since: int | None = None) -> Iterator[str]:
        """A running container's log line by line as it is written (``kubectl logs -f``); ends when the
        container stops. The connection closes when the caller stops iterating."""
        response = self._request("GET", f"{_path('Pod', namespace, pod)}/log", action=f"following the log of pod {namespace}/{pod}",
                                 query=[*_log_query(container, False, tail, since), ("follow", "true")], stream=True)
        try:
            pending = b""
            for chunk in response.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            response.close()  # a follow is never drained: the connection is not reused
            response.release_conn()

    def apply(self, body: Mapping[str, Any]) -> Applied:
        """Create the object, or bring the fields ``body`` sets to its values; nothing else is touched.

        Only what ``body`` names is compared (servers add defaults, status and metadata; controllers add
        to specs), so an object already as wanted costs one GET and no write.
        """
        kind, meta = str(body["kind"]), body.get("metadata") or {}
        name, namespace = str(meta["name"]), meta.get("namespace")
        live = self.get(kind, name, namespace)
        if live is None:
            return Applied("created", self.create(kind, body, namespace))
        fields = drift(body, live)
        if not fields:
            return Applied("unchanged", live)
        try:
            return Applied("updated", self.patch(kind, name, body, namespace), tuple(fields))
        except KubeError as e:
            if e.status == 422 and e.is_immutable():
                e.hint = (f"{_label(kind, name, namespace)} differs in a field that cannot change ({', '.join(fields)}): "
                          "delete it and run again (a Retain volume keeps its data)")
            raise

    # -- plumbing --------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        query: Iterable[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        raw: bool = False,
        stream: bool = False,
    ) -> Any:
        """One API call through the official client's ``ApiClient`` with a raw JSON body; the parsed
        JSON answer (the text with ``raw``; with ``stream`` the open urllib3 response, without a read
        timeout, for the caller to read as it arrives), or :class:`KubeError`."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        api: Any = self._api
        timeout: Any = (self.timeout, None) if stream else self.timeout
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            if hasattr(api, "param_serialize"):  # client >= 37 (openapi-generator "python")
                request = api.param_serialize(
                    method=method, resource_path=path, query_params=list(query), header_params=headers, body=body,
                    auth_settings=["BearerToken"],
                )
                response = api.call_api(*request, _request_timeout=timeout)
                opened, status, http_reason = response.response, response.status, response.reason
            else:  # client <= 36 (openapi-generator "python-legacy"): raises ApiException on non-2xx
                opened = api.call_api(
                    path, method, query_params=list(query), header_params=headers, body=body, auth_settings=["BearerToken"],
                    _preload_content=False, _return_http_data_only=True, _request_timeout=timeout,
                )
                status, http_reason = opened.status, opened.reason
            if stream and 200 <= status <= 299:
                return opened
            data = opened.data
        except ApiException as e:
            if not e.status:  # the legacy client reports TLS failures as status 0
                raise self._unreachable(action, e.reason) from e
            raise KubeError.from_response(action, int(e.status), e.reason, e.body) from e
        except (HTTPError, OSError) as e:
            raise self._unreachable(action, e) from e
        if not 200 <= status <= 299:
            raise KubeError.from_response(action, status, http_reason, data)
        if raw:
            return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as e:
            raise KubeError(f"{action}: the API server answered {status} with a body that is not JSON", status=status) from e

    def _unreachable(self, action: str, cause: object) -> KubeError:
        text = str(cause)
        # urllib3's MaxRetryError wraps the interesting part: "(Caused by NewConnectionError(...: [Errno 111] ...))"
        m = re.search(r"Caused by \w+\((.*)\)\)?$", text)
        if m:
            text = m.group(1)
        return KubeError(
            f"{action} failed: cannot reach the Kubernetes API at {self.server}: {_one_line(text, 300)}",
            reason="Unreachable",
            hint="check that the cluster is running and that this machine can reach its API server",
        )
