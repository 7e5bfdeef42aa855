"""A fake Microsoft Graph (v1.0) for jhubctl's service-principal mode, served over HTTPS.

Only the directory calls jhubctl makes are modelled: applications (list by ``displayName``, create,
get, delete, ``addPassword``, ``removePassword``) and service principals (list by ``appId``, create,
get, delete). Answers use Graph's shapes, status codes and ``{"error": {"code", "message",
"innerError"}}`` bodies; the codes are listed in :data:`ERRORS`.

The server speaks TLS with a certificate from a ``trustme`` CA — a new one, or one passed in
(``FakeGraph(ca=trustme.CA)`` or ``ca=(cert_pem_path, key_pem_path)``) so several fakes can share one
trust bundle. :attr:`FakeGraph.ca_pem_path` is the CA certificate; :meth:`FakeGraph.ssl_context`
an ``ssl.SSLContext`` trusting it (httpx >= 0.28 deprecates ``verify=<path>``).
"""

from __future__ import annotations

import copy
import json
import random
import re
import secrets
import shutil
import socket
import ssl
import string
import tempfile
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import trustme

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
#: ``<property> eq '<literal>'`` with OData quoting ('' is an escaped quote).
_FILTER = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)
_JSON_ERROR = object()

#: (status, code) of every error the fake produces, by situation.
ERRORS = {
    "no_token": (401, "InvalidAuthenticationToken"),
    "not_found": (404, "Request_ResourceNotFound"),
    "sp_exists": (409, "Request_MultipleObjectsWithSameKeyValue"),
    "bad_request": (400, "Request_BadRequest"),
    "unsupported_filter": (400, "Request_UnsupportedQuery"),
    "unknown_segment": (400, "BadRequest"),
    "throttled": (429, "TooManyRequests"),
    "unavailable": (503, "serviceNotAvailable"),
    "internal": (500, "generalException"),
}
_RATE_ERRORS = {
    429: ("TooManyRequests", "Too many requests. Please try again later."),
    500: ("generalException", "An unspecified error has occurred."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please try again later."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details


def _not_found(oid: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.")


@dataclass
class RequestRecord:
    """One request as the fake saw it (``Authorization`` removed from ``headers``)."""

    seq: int
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int | None = None
    fault: int | None = None  # status of an injected answer, if one was sent
    response: Any = None

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class _Scripted:
    status: int
    code: str
    message: str
    method: str | None
    path_contains: str | None
    times: int
    after: bool
    retry_after: str | None


@dataclass
class Faults:
    """Transient-error rate (seeded), scripted errors per path, and an optional hook. Thread-safe."""

    default_retry_after: str = "0"
    #: Called with each :class:`RequestRecord`; may return ``(status, code, message)`` to answer it.
    hook: Callable[[RequestRecord], tuple[int, str, str] | None] | None = None
    injected: list[tuple[int, str, int, str]] = field(default_factory=list)  # (seq, path, status, source)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rate, self._statuses, self._methods = 0.0, (429, 503), None
        self._rng = random.Random(0)
        self._scripted: list[_Scripted] = []

    def set_rate(self, rate: float, *, statuses: Iterable[int] = (429, 503), seed: int = 0,
                 methods: Iterable[str] | None = None) -> None:
        """Answer a fraction ``rate`` of requests (optionally only ``methods``) with one of ``statuses``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        with self._lock:
            self._rate, self._statuses, self._rng = rate, tuple(statuses), random.Random(seed)
            self._methods = frozenset(m.upper() for m in methods) if methods else None

    def inject(self, status: int, code: str | None = None, message: str | None = None, *, method: str | None = None,
               path_contains: str | None = None, times: int = 1, after: bool = False,
               retry_after: str | None = None) -> None:
        """Answer the next ``times`` matching requests with this error.

        ``after=True``: the request takes effect first, only its answer is replaced (lost reply).
        """
        dcode, dmsg = _RATE_ERRORS.get(status, ("Request_BadRequest", "Injected by the fake Graph."))
        with self._lock:
            self._scripted.append(_Scripted(status, code or dcode, message or dmsg, method and method.upper(),
                                            path_contains, times, after, retry_after))

    def clear(self) -> None:
        with self._lock:
            self._rate, self.hook = 0.0, None
            self._scripted.clear()

    def count(self, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for f in self.injected if status is None or f[2] == status)

    def take(self, rec: RequestRecord, after: bool) -> GraphError | None:
        with self._lock:
            hit: tuple[int, str, str, str | None, str] | None = None
            if not after and self.hook is not None:
                hooked = self.hook(rec)
                if hooked is not None:
                    hit = (*hooked, None, "hook")
            if hit is None:
                for s in self._scripted:
                    if (s.times > 0 and s.after == after and (s.method is None or s.method == rec.method)
                            and (not s.path_contains or s.path_contains.lower() in rec.path.lower())):
                        s.times -= 1
                        hit = (s.status, s.code, s.message, s.retry_after, "inject")
                        break
            if hit is None and not after and self._rate > 0 and (self._methods is None or rec.method in self._methods):
                draw, status = self._rng.random(), self._rng.choice(self._statuses)  # two draws: stable sequence
                if draw < self._rate:
                    hit = (status, *_RATE_ERRORS.get(status, ("generalException", "Injected fault.")), None, "rate")
            if hit is None:
                return None
            status, code, message, retry_after, source = hit
            self.injected.append((rec.seq, rec.path, status, source))
            if retry_after is None and status in (429, 503):
                retry_after = self.default_retry_after
            return GraphError(status, code, message, {"Retry-After": retry_after} if retry_after is not None else {})


class Directory:
    """Applications and service principals of one fake tenant. Callers hold :attr:`lock`."""

    def __init__(self, issued_secrets: list[str]) -> None:
        self.lock = threading.RLock()
        self.applications: dict[str, dict[str, Any]] = {}
        self.service_principals: dict[str, dict[str, Any]] = {}
        self._issued = issued_secrets

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _filtered(items: Iterable[dict[str, Any]], query: dict[str, str], allowed: tuple[str, ...]) -> list[dict[str, Any]]:
        flt = query.get("$filter")
        if flt is None:
            return list(items)
        m = _FILTER.match(flt)
        prop = next((a for a in allowed if m and a.lower() == m.group(1).lower()), None)
        if prop is None:
            raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause specified: '{flt}'.")
        want = m.group(2).replace("''", "'").lower()  # directory string comparison ignores case
        return [i for i in items if str(i.get(prop, "")).lower() == want]

    def _app(self, oid: str) -> dict[str, Any]:
        if not _GUID.match(oid):
            raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{oid}'.")
        app = self.applications.get(oid.lower())
        if app is None:
            raise _not_found(oid)
        return app

    def _sp(self, oid: str) -> dict[str, Any]:
        if not _GUID.match(oid):
            raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{oid}'.")
        sp = self.service_principals.get(oid.lower())
        if sp is None:
            raise _not_found(oid)
        return sp

    # -- routing -----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0] != "v1.0" or len(segs) < 2:
            raise GraphError(400, "BadRequest", f"Invalid version: {segs[0] if segs else ''}")
        coll, rest = segs[1].lower(), segs[2:]
        if coll not in ("applications", "serviceprincipals") or len(rest) > 2:
            bad = segs[1] if len(rest) <= 2 else rest[2]
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{bad}'.")
        is_app = coll == "applications"
        route = (method, len(rest), rest[1].lower() if len(rest) == 2 else None)
        if route == ("GET", 0, None):
            items = self.applications.values() if is_app else self.service_principals.values()
            value = self._filtered(items, query, ("displayName", "appId"))
            return 200, {"@odata.context": f"{GRAPH_ROOT}/$metadata#{segs[1]}", "value": copy.deepcopy(value)}
        if route == ("POST", 0, None):
            obj = self.create_app(body) if is_app else self.create_sp(body)
            return 201, {"@odata.context": f"{GRAPH_ROOT}/$metadata#{segs[1]}/$entity", **copy.deepcopy(obj)}
        if route == ("GET", 1, None):
            obj = self._app(rest[0]) if is_app else self._sp(rest[0])
            return 200, {"@odata.context": f"{GRAPH_ROOT}/$metadata#{segs[1]}/$entity", **copy.deepcopy(obj)}
        if route == ("DELETE", 1, None):
            if is_app:
                self.delete_app(rest[0])
            else:
                del self.service_principals[self._sp(rest[0])["id"]]
            return 204, None
        if is_app and route == ("POST", 2, "addpassword"):
            return 200, self.add_password(rest[0], body)
        if is_app and route == ("POST", 2, "removepassword"):
            self.remove_password(rest[0], body)
            return 204, None
        if len(rest) == 2 and route[2] not in ("addpassword", "removepassword"):
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[1]}'.")
        raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")

    # -- operations --------------------------------------------------------------------------------
    def create_app(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("displayName"), str) or not body["displayName"]:
            raise GraphError(400, "Request_BadRequest", "Property 'displayName' is required.")
        app = {
            "id": str(uuid.uuid4()), "appId": str(uuid.uuid4()), "displayName": body["displayName"],
            "createdDateTime": _now().strftime("%Y-%m-%dT%H:%M:%SZ"), "deletedDateTime": None,
            "signInAudience": body.get("signInAudience", "AzureADMyOrg"), "identifierUris": [],
            "keyCredentials": [], "passwordCredentials": [], "tags": list(body.get("tags") or []),
        }
        self.applications[app["id"]] = app
        return app

    def delete_app(self, oid: str) -> None:
        app = self._app(oid)
        del self.applications[app["id"]]
        for sp in [s for s in self.service_principals.values() if s["appId"] == app["appId"]]:
            del self.service_principals[sp["id"]]

    def add_password(self, oid: str, body: Any) -> dict[str, Any]:
        app = self._app(oid)
        pc = (body or {}).get("passwordCredential") if isinstance(body, (dict, type(None))) else body
        pc = {} if pc is None else pc  # the body and its passwordCredential are both optional
        if not isinstance(pc, dict):
            raise GraphError(400, "Request_BadRequest", "Invalid passwordCredential.")
        start = _now()
        try:
            end = start.replace(year=start.year + 2)
        except ValueError:  # 29 February
            end = start.replace(year=start.year + 2, day=28)
        alphabet = string.ascii_letters + string.digits + "_-.~"
        secret = "".join(secrets.choice(alphabet) for _ in range(3)) + "8Q~" + "".join(
            secrets.choice(alphabet) for _ in range(34))
        self._issued.append(secret)
        cred = {
            "customKeyIdentifier": None, "displayName": pc.get("displayName"),
            "endDateTime": pc.get("endDateTime") or _stamp(end), "hint": secret[:3], "keyId": str(uuid.uuid4()),
            "secretText": secret, "startDateTime": pc.get("startDateTime") or _stamp(start),
        }
        app["passwordCredentials"].append({**cred, "secretText": None})  # Graph never returns it again
        return {"@odata.context": f"{GRAPH_ROOT}/$metadata#microsoft.graph.passwordCredential", **cred}

    def remove_password(self, oid: str, body: Any) -> None:
        app = self._app(oid)
        key = body.get("keyId") if isinstance(body, dict) else None
        if not isinstance(key, str) or not _GUID.match(key):
            raise GraphError(400, "Request_BadRequest", "Invalid value specified for property 'keyId'.")
        kept = [c for c in app["passwordCredentials"] if c["keyId"].lower() != key.lower()]
        if len(kept) == len(app["passwordCredentials"]):
            raise GraphError(400, "Request_BadRequest", f"No password credential found with keyId '{key}'.")
        app["passwordCredentials"] = kept

    def create_sp(self, body: Any) -> dict[str, Any]:
        app_id = body.get("appId") if isinstance(body, dict) else None
        if not isinstance(app_id, str) or not app_id:
            raise GraphError(400, "Request_BadRequest", "Property 'appId' is required.")
        app = next((a for a in self.applications.values() if a["appId"].lower() == app_id.lower()), None)
        if app is None:
            msg = f"The appId '{app_id}' of the service principal does not reference a valid application object."
            raise GraphError(400, "Request_BadRequest", msg,
                             details=[{"code": "NoBackingApplicationObject", "message": msg, "target": "appId"}])
        if any(s["appId"] == app["appId"] for s in self.service_principals.values()):
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "The service principal cannot be created, updated, or restored because the service "
                             f"principal name {app['appId']} is already in use.")
        sp = {
            "id": str(uuid.uuid4()), "appId": app["appId"], "displayName": app["displayName"],
            "appDisplayName": app["displayName"], "accountEnabled": True, "deletedDateTime": None,
            "servicePrincipalType": "Application", "servicePrincipalNames": [app["appId"]],
            "passwordCredentials": [], "keyCredentials": [], "tags": [],
        }
        self.service_principals[sp["id"]] = sp
        return sp


class FakeGraph:
    """Fake ``https://graph.microsoft.com`` on ``https://127.0.0.1:<port>``; ``url`` has no ``/v1.0``.

    ``ca``: ``None`` (new CA), a ``trustme.CA``, or ``(cert_pem_path, key_pem_path)``. With
    ``expected_token`` set, any other bearer token is refused too.
    """

    def __init__(self, *, ca: Any = None, expected_token: str | None = None, ca_dir: Path | str | None = None,
                 retry_after: str = "0") -> None:
        if ca is None:
            ca = trustme.CA()
        elif isinstance(ca, (tuple, list)):
            ca = trustme.CA.from_pem(Path(ca[0]).read_bytes(), Path(ca[1]).read_bytes())
        self.ca: trustme.CA = ca
        self.expected_token = expected_token
        self.token = expected_token or "fake-graph-token"
        self.tenant_id = str(uuid.uuid4())
        self.faults = Faults(default_retry_after=retry_after)
        #: Every ``secretText`` handed out, in order; see :meth:`leaked_secrets`.
        self.issued_secrets: list[str] = []
        self.directory = Directory(self.issued_secrets)
        self.requests: list[RequestRecord] = []
        #: Tracebacks of bugs in the fake itself (answered 500 ``generalException``).
        self.internal_errors: list[str] = []
        self._log_lock = threading.Lock()
        self._ca_dir = Path(ca_dir) if ca_dir is not None else None
        self._tmpdir: Path | None = None
        self._server: _Server | None = None
        self.url = ""
        self.ca_pem_path = Path()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "FakeGraph":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        if self._ca_dir is None:
            self._tmpdir = self._ca_dir = Path(tempfile.mkdtemp(prefix="fake-graph-"))
        self._ca_dir.mkdir(parents=True, exist_ok=True)
        self.ca_pem_path = self._ca_dir / "fake-graph-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem_path))
        self._server = _Server(("127.0.0.1", 0), _Handler, ctx, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="fake-graph", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "FakeGraph":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences ------------------------------------------------------------------------------
    @property
    def v1(self) -> str:
        return f"{self.url}/v1.0"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_pem_path))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def writes(self, *, include_faulted: bool = False) -> list[RequestRecord]:
        with self._log_lock:
            return [r for r in self.requests if r.is_write and (include_faulted or r.fault is None)]

    def leaked_secrets(self, *haystacks: str | bytes | Path) -> list[str]:
        """Issued secrets found in ``haystacks`` (text, bytes, files, directories searched recursively)."""
        blobs: list[bytes] = []
        for h in haystacks:
            if isinstance(h, Path):
                files = [p for p in h.rglob("*") if p.is_file()] if h.is_dir() else [h] if h.exists() else []
                blobs += [p.read_bytes() for p in files]
            else:
                blobs.append(h.encode() if isinstance(h, str) else h)
        return [s for s in self.issued_secrets if any(s.encode() in b for b in blobs)]

    def secrets_sent_back(self) -> list[str]:
        """Issued secrets that a later request carried back to Graph (query, body or headers)."""
        with self._log_lock:
            text = "".join(json.dumps([r.query, r.body, r.headers], default=str) for r in self.requests)
        return self.leaked_secrets(text)

    # -- request processing (handler threads) ------------------------------------------------------
    def _record(self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]) -> RequestRecord:
        with self._log_lock:
            rec = RequestRecord(len(self.requests), method, path, query, body, headers)
            self.requests.append(rec)
            return rec

    def _dispatch(self, rec: RequestRecord, authorization: str | None, body: Any) -> tuple[int, Any, dict[str, str]]:
        try:
            self._check_auth(authorization)
            fault = self.faults.take(rec, after=False)
            if fault is not None:
                rec.fault = fault.status
                raise fault
            if body is _JSON_ERROR:
                raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                 "header is set and payload is of valid JSON format.")
            with self.directory.lock:
                status, payload = self.directory.handle(rec.method, rec.path, rec.query, body)
            late = self.faults.take(rec, after=True)
            if late is not None:
                rec.fault = late.status
                raise late
            return status, payload, {}
        except GraphError as err:
            error: dict[str, Any] = {"code": err.code, "message": err.message}
            if err.details:
                error["details"] = err.details
            return err.status, {"error": error}, err.headers
        except Exception:  # noqa: BLE001 - a bug in the fake must show, not hang the client
            self.internal_errors.append(traceback.format_exc())
            return 500, {"error": {"code": "generalException", "message": "The fake Graph crashed."}}, {}

    def _check_auth(self, authorization: str | None) -> None:
        challenge = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common'
                     '/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'}
        scheme, _, token = (authorization or "").partition(" ")
        if not token.strip() and (not authorization or scheme.lower() == "bearer"):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        if scheme.lower() != "bearer":
            raise GraphError(401, "InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217",
                             challenge)
        if self.expected_token is not None and token.strip() != self.expected_token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.", challenge)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, ssl_ctx: ssl.SSLContext, fake: FakeGraph) -> None:
        super().__init__(addr, handler)
        self.ssl_ctx, self.fake = ssl_ctx, fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread; TCP_NODELAY avoids the Nagle/delayed-ACK stall.
        request.settimeout(30)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    wbufsize = 64 * 1024
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _serve(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = re.sub(r"/+", "/", parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = _JSON_ERROR
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        logged = raw.decode("utf-8", "replace") if body is _JSON_ERROR else body
        rec = fake._record(self.command, path, query, logged, headers)
        status, payload, extra = fake._dispatch(rec, self.headers.get("Authorization"), body)
        rec.status, rec.response = status, payload
        request_id = str(uuid.uuid4())
        client_id = self.headers.get("client-request-id") or request_id
        if isinstance(payload, dict) and "error" in payload:
            payload["error"]["innerError"] = {"date": _now().strftime("%Y-%m-%dT%H:%M:%S"),
                                              "request-id": request_id, "client-request-id": client_id}
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("request-id", request_id)
        self.send_header("client-request-id", client_id)
        for key, value in extra.items():
            self.send_header(key, value)
        if data:
            self.send_header("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;"
                             "IEEE754Compatible=false;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
