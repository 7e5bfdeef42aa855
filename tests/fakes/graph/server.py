"""A fake Microsoft Graph (v1.0) for jhubctl's service-principal mode, served over HTTPS.

Only the directory calls jhubctl makes are modelled: applications (list by ``displayName``, create,
get, delete, ``addPassword``, ``removePassword``) and service principals (list by ``appId``, create,
get, delete). Answers use Graph's shapes, status codes and ``{"error": {"code", "message",
"innerError"}}`` bodies; the codes are listed in :data:`ERRORS`. A token must be a JWT issued for Graph:
one for Azure Resource Manager is refused ("Access token validation failure. Invalid audience.").

The server speaks TLS with a certificate from a ``trustme`` CA — a new one, or one passed in
(``FakeGraph(ca=trustme.CA)`` or ``ca=(cert_pem_path, key_pem_path)``) so several fakes can share one
trust bundle. :attr:`FakeGraph.ca_pem_path` is the CA certificate; :meth:`FakeGraph.ssl_context`
an ``ssl.SSLContext`` trusting it (httpx >= 0.28 deprecates ``verify=<path>``).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from pathlib import Path
from typing import Any, Iterable

from ..base import faults as base
from ..base.faults import InjectedFault
from ..base.log import RequestRecord
from ..base.server import BAD_BODY, FakeServer, Reply
from ..base.tokens import GRAPH_AUDIENCE, audience, jwt

__all__ = ["ERRORS", "Directory", "FakeGraph", "Faults", "GraphError", "InjectedFault", "RequestRecord"]

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
#: ``<property> eq '<literal>'`` with OData quoting ('' is an escaped quote).
_FILTER = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)

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

    def reply(self) -> Reply:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return Reply(self.status, {"error": error}, self.headers)


def _not_found(oid: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.")


@dataclass
class Faults(base.Faults):
    """Transient-error rate (seeded), scripted errors per path, and an optional hook. Thread-safe.

    :attr:`hook` is called with each :class:`RequestRecord`; it may return ``(status, code, message)``.
    """

    default_retry_after: str = "0"
    default_statuses = (429, 503)
    rate_messages = _RATE_ERRORS
    rate_fallback = ("generalException", "Injected fault.")

    def inject(self, status: int, code: str | None = None, message: str | None = None, *, method: str | None = None,
               path_contains: str | None = None, times: int = 1, after: bool = False,
               retry_after: str | None = None) -> None:
        """Answer the next ``times`` matching requests with this error.

        ``after=True``: the request takes effect first, only its answer is replaced (lost reply).
        """
        dcode, dmsg = _RATE_ERRORS.get(status, ("Request_BadRequest", "Injected by the fake Graph."))
        response = base.FaultResponse(status, code or dcode, message or dmsg, retry_after)
        self._script(base.Scripted(response, method, path_contains, times, after))

    def _answer(self, rec: RequestRecord, response: Any) -> GraphError:
        r = response if isinstance(response, base.FaultResponse) else base.FaultResponse(*response)
        return GraphError(r.status, r.code, r.message, r.retry_headers(self.default_retry_after))


class Directory:
    """Applications and service principals of one fake tenant. Callers hold :attr:`lock`."""

    def __init__(self, issued_secrets: list[str]) -> None:
        self.lock = threading.RLock()
        self.applications: dict[str, dict[str, Any]] = {}
        self.service_principals: dict[str, dict[str, Any]] = {}
        self._issued = issued_secrets
        #: Called with (event, data) on "servicePrincipal" (appId, id), "password" (appId, secretText) and
        #: "deleted" (appId): how a fake ARM learns what AKS can see (``FakeArm.resources.learn``).
        self.listeners: list[Any] = []

    def _tell(self, event: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event, data)

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

    @staticmethod
    def _lookup(objects: dict[str, dict[str, Any]], oid: str) -> dict[str, Any]:
        if not _GUID.match(oid):
            raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{oid}'.")
        obj = objects.get(oid.lower())
        if obj is None:
            raise _not_found(oid)
        return obj

    def _app(self, oid: str) -> dict[str, Any]:
        return self._lookup(self.applications, oid)

    def _sp(self, oid: str) -> dict[str, Any]:
        return self._lookup(self.service_principals, oid)

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
        self._tell("deleted", {"appId": app["appId"]})

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
        self._tell("password", {"appId": app["appId"], "secretText": secret})
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
        self._tell("servicePrincipal", {"appId": sp["appId"], "id": sp["id"]})
        return sp


class FakeGraph(FakeServer):
    """Fake ``https://graph.microsoft.com`` on ``https://127.0.0.1:<port>``; ``url`` has no ``/v1.0``.

    ``ca``: ``None`` (new CA), a ``trustme.CA``, or ``(cert_pem_path, key_pem_path)``. With
    ``expected_token`` set, any other bearer token is refused too.
    """

    name = "fake-graph"
    methods = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
    error_types = (GraphError,)
    json_content_type = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

    def __init__(self, *, ca: Any = None, expected_token: str | None = None, ca_dir: Path | str | None = None,
                 retry_after: str = "0") -> None:
        super().__init__(ca=ca, ca_dir=ca_dir)
        self.expected_token = expected_token
        self.token = expected_token or jwt(GRAPH_AUDIENCE)
        self.tenant_id = str(uuid.uuid4())
        self.faults = Faults(default_retry_after=retry_after)
        #: Every ``secretText`` handed out, in order; see :meth:`leaked_secrets`.
        self.issued_secrets: list[str] = []
        self.directory = Directory(self.issued_secrets)

    # -- conveniences ------------------------------------------------------------------------------
    @property
    def v1(self) -> str:
        return f"{self.url}/v1.0"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

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
        text = "".join(json.dumps([r.query, r.body, r.headers], default=str) for r in self.requests)
        return self.leaked_secrets(text)

    # -- request processing (handler threads) ------------------------------------------------------
    def _refuse(self, rec: RequestRecord, route: Any, authorization: str | None) -> Reply | None:
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
        aud = audience(token.strip())
        if aud is None:
            raise GraphError(401, "InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217",
                             challenge)
        if aud.rstrip("/") not in (GRAPH_AUDIENCE, "00000003-0000-0000-c000-000000000000"):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.",
                             challenge)
        return None

    def _handle(self, rec: RequestRecord, route: Any, body: Any) -> Reply:
        if body is BAD_BODY:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                             "header is set and payload is of valid JSON format.")
        with self.directory.lock:
            return Reply(*self.directory.handle(rec.method, rec.path, rec.query, body))

    def _crash_reply(self) -> Reply:
        return Reply(500, {"error": {"code": "generalException", "message": "The fake Graph crashed."}})

    def _logged_response(self, reply: Reply) -> Any:
        return reply.body

    def _reply_headers(self, request_headers: Message, reply: Reply) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        client_id = request_headers.get("client-request-id") or request_id
        if isinstance(reply.body, dict) and "error" in reply.body:
            reply.body["error"]["innerError"] = {"date": _now().strftime("%Y-%m-%dT%H:%M:%S"),
                                                 "request-id": request_id, "client-request-id": client_id}
        return {"request-id": request_id, "client-request-id": client_id}
