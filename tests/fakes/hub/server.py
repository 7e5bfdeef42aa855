"""The parts of the JupyterHub 4.0.2 REST API that diagnose reads, answered as JupyterHub answers them.

Served under ``/hub/api``: ``GET /`` (the version, no auth); ``GET /user`` (the token's owner: a service
model plus its expanded ``scopes``); ``GET /users`` (``state=active|ready|inactive``, ``offset``/``limit``;
with ``Accept: application/jupyterhub-pagination+json`` the ``{"items", "_pagination"}`` form, without it a
plain list of at most 200); ``GET /users/{name}``; ``DELETE /users/{name}/servers/{server}`` (400 "Named
servers are not enabled." when they are off, 404 for an unknown server, else the server is stopped).

Refusals have JupyterHub's shape, ``{"status": 403, "message": "..."}``: a missing or unknown token is 403
("Forbidden" on ``/user``, "Missing or invalid credentials." elsewhere), a scope the token lacks is 403 naming the
scopes it would need. Checked against the real hub in tests/diagnose/test_local_hub.py. Every request
is recorded (without its Authorization header) so tests can count them.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote

from ..base.server import FakeServer, Reply

PAGINATION = "application/jupyterhub-pagination+json"
#: api_page_max_limit's default.
MAX_LIMIT = 200
VERSION = "4.0.2"


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"status": status, "message": message})


class FakeHub(FakeServer):
    name = "fake-hub"

    def __init__(self, *, token: str, service: str = "assistant", scopes: list[str] | None = None,
                 named_servers: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("tls", False)  # the chart's proxy-public serves plain HTTP without a domain
        super().__init__(**kwargs)
        self.faults = _NoFaults()
        self.token, self.service = token, service
        #: The token's expanded scopes, as GET /user lists them.
        self.scopes = list(scopes if scopes is not None else [  # what 4.0.2 expands API_SERVICE_SCOPES into
            "access:servers", "admin:auth_state", "admin:users", "delete:servers", "delete:users", "list:users",
            "read:roles:users", "read:servers", "read:tokens", "read:users", "read:users:activity",
            "read:users:groups", "read:users:name", "servers", "tokens", "users", "users:activity"])
        self.named_servers = named_servers
        self.users: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._auth = threading.local()

    # -- test conveniences -----------------------------------------------------------------------
    def add_user(self, name: str, servers: dict[str, dict[str, Any]] | None = None) -> None:
        """A user with named servers: ``{"c1": {"ready": True}}``; a server is active unless it says otherwise."""
        full = {}
        for server, fields in (servers or {}).items():
            full[server] = {"name": server, "ready": False, "pending": None, "stopped": False, "url": f"/user/{name}/{server}/",
                            "started": "2024-05-01T10:00:00.000000Z", "last_activity": "2024-05-01T10:05:00.000000Z",
                            "user_options": {}, "progress_url": f"/hub/api/users/{name}/servers/{server}/progress", **fields}
        with self.lock:
            self.users[name] = {"kind": "user", "name": name, "admin": False, "roles": ["user"], "groups": [],
                                "server": None, "pending": None, "created": "2024-05-01T09:00:00.000000Z",
                                "last_activity": "2024-05-01T10:05:00.000000Z", "servers": full}

    # -- the API ---------------------------------------------------------------------------------
    def _refuse(self, rec: Any, route: Any, authorization: str | None) -> Reply | None:
        scheme, _, value = (authorization or "").partition(" ")
        self._auth.ok = scheme.lower() in ("token", "bearer") and value.strip() == self.token
        return None

    def _allowed(self, *needed: str, unknown: str = "Missing or invalid credentials.") -> Reply | None:
        if not self._auth.ok:
            return _error(403, unknown)
        if needed and not set(needed) & set(self.scopes):
            return _error(403, f"Action is not authorized with current scopes; requires any of {list(needed)}")
        return None

    def _handle(self, rec: Any, route: Any, body: Any) -> Reply:
        path = rec.path
        if not path.startswith("/hub/api"):
            return Reply(404, "404: Not Found")
        parts = [unquote(p) for p in path[len("/hub/api"):].split("/") if p]
        with self.lock:
            if not parts and rec.method == "GET":
                return Reply(200, {"version": VERSION})
            if parts == ["user"] and rec.method == "GET":
                return self._allowed(unknown="Forbidden") or Reply(200, {"kind": "service", "name": self.service, "roles": [self.service],
                                                      "admin": False, "session_id": None, "scopes": sorted(self.scopes)})
            if parts == ["users"] and rec.method == "GET":
                return self._allowed("list:users") or self._list(rec)
            if len(parts) == 2 and parts[0] == "users" and rec.method == "GET":
                refused = self._allowed("read:users")
                if refused:
                    return refused
                user = self.users.get(parts[1])
                return Reply(200, self._model(user)) if user else _error(404, "Not Found")
            if len(parts) == 4 and parts[0] == "users" and parts[2] == "servers" and rec.method == "DELETE":
                return self._allowed("delete:servers", "servers") or self._delete(parts[1], parts[3])
        return _error(404, "Not Found")

    @staticmethod
    def _model(user: dict[str, Any]) -> dict[str, Any]:
        return {**user, "servers": {k: v for k, v in user["servers"].items() if not v.get("stopped")}}

    def _list(self, rec: Any) -> Reply:
        state = rec.query.get("state")
        if state not in (None, "", "active", "ready", "inactive"):
            return _error(400, f"Unrecognized state: {state}. Must be one of ['active', 'inactive', 'ready']")
        chosen = []
        for user in self.users.values():
            active = [s for s in user["servers"].values() if not s.get("stopped")]
            ready = [s for s in active if s.get("ready")]
            if (state == "active" and not active) or (state == "ready" and not ready) or (state == "inactive" and active):
                continue
            chosen.append(self._model(user))
        paginated = PAGINATION in (rec.headers.get("Accept") or "")
        offset = int(rec.query.get("offset") or 0)
        limit = min(int(rec.query.get("limit") or (50 if paginated else MAX_LIMIT)), MAX_LIMIT)
        page = chosen[offset: offset + limit]
        if not paginated:
            return Reply(200, page)
        following = offset + limit < len(chosen)
        next_page = ({"offset": offset + limit, "limit": limit, "url": f"{self.url}/hub/api/users?offset={offset + limit}"}
                     if following else None)
        return Reply(200, {"items": page, "_pagination": {"offset": offset, "limit": limit, "total": len(chosen),
                                                          "next": next_page}})

    def _delete(self, name: str, server: str) -> Reply:
        user = self.users.get(name)
        if user is None:  # JupyterHub 4.0.2 itself fails here (user.orm_spawners of None)
            return _error(500, "Internal Server Error")
        if not self.named_servers:
            return _error(400, "Named servers are not enabled.")
        if server not in user["servers"]:
            return _error(404, f"{name} has no server named '{server}'")
        user["servers"][server]["stopped"] = True
        return Reply(204)


class _NoFaults:
    def before(self, rec: Any) -> None:
        return None

    def after(self, rec: Any) -> None:
        return None
