"""The data-plane API of an Azure Container Registry, as far as jhubctl uses it.

* ``POST /oauth2/exchange`` (form: ``grant_type=access_token``, ``service``, ``access_token``, optional
  ``tenant``): an Azure AD token becomes a registry refresh token (what ``az acr login`` does);
* ``POST /oauth2/token`` (form: ``grant_type=refresh_token``, ``service``, ``scope``, ``refresh_token``): an
  access token for that scope (``repository:<repo>:pull``);
* ``HEAD``/``GET /v2/<repo>/manifests/<tag>`` with ``Authorization: Bearer <access token>``: 200 with
  ``Docker-Content-Digest``, 404 ``MANIFEST_UNKNOWN``, or 401 with the ``WWW-Authenticate`` challenge.

Errors have the distribution API's shape, ``{"errors": [{"code", "message", "detail"}]}``. Images get
there through :meth:`FakeRegistry.push` (the fake ACR Tasks call it when a run succeeds).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs

from ..base.server import FakeServer, Reply


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **detail: Any) -> Reply:
    return Reply(status, {"errors": [{"code": code, "message": message, "detail": detail or None}]}, headers or {})


class _NoFaults:
    def before(self, rec: Any) -> None:
        return None

    def after(self, rec: Any) -> None:
        return None


class FakeRegistry(FakeServer):
    name = "fake-registry"

    def __init__(self, *, aad_token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults = _NoFaults()
        #: The Azure token the exchange accepts (None: any non-empty one).
        self.aad_token = aad_token
        self.images: dict[tuple[str, str], str] = {}  # (repository, tag) -> platform
        self._refresh: set[str] = set()
        self._access: dict[str, str] = {}  # token -> scope
        self.lock = threading.Lock()
        self._local = threading.local()  # the request's Authorization (the record drops it)

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def push(self, repository: str, tag: str, platform: str = "linux/amd64") -> None:
        with self.lock:
            self.images[(repository, tag)] = platform

    def _challenge(self, scope: str) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer realm="https://{self.host}/oauth2/token",service="{self.host}",scope="{scope}"'}

    def _refuse(self, rec: Any, route: Any, authorization: str | None) -> Reply | None:
        self._local.authorization = authorization or ""
        return None

    def _handle(self, rec: Any, route: Any, body: Any) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(rec.body if isinstance(rec.body, str) else "").items()}
        with self.lock:
            if rec.method == "POST" and rec.path == "/oauth2/exchange":
                if form.get("grant_type") != "access_token" or form.get("service") != self.host:
                    return _error(400, "UNSUPPORTED", "grant_type must be access_token and service this registry")
                if not form.get("access_token") or (self.aad_token is not None and form["access_token"] != self.aad_token):
                    return _error(401, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization "
                                  "for more information.")
                token = secrets.token_hex(16)
                self._refresh.add(token)
                return Reply(200, {"refresh_token": token})
            if rec.method == "POST" and rec.path == "/oauth2/token":
                if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self._refresh:
                    return _error(401, "UNAUTHORIZED", "authentication required")
                token = secrets.token_hex(16)
                self._access[token] = form.get("scope", "")
                return Reply(200, {"access_token": token})
            parts = rec.path.strip("/").split("/")
            if rec.method in ("HEAD", "GET") and len(parts) >= 4 and parts[0] == "v2" and parts[-2] == "manifests":
                repository, tag = "/".join(parts[1:-2]), parts[-1]
                scope = f"repository:{repository}:pull"
                scheme, _, token = self._local.authorization.partition(" ")
                granted = self._access.get(token) if scheme == "Bearer" else None
                if granted is None or not (granted.startswith(f"repository:{repository}:") and "pull" in granted):
                    return _error(401, "UNAUTHORIZED", "authentication required", self._challenge(scope))
                if (repository, tag) not in self.images:
                    return _error(404, "MANIFEST_UNKNOWN", f'manifest tagged by "{tag}" is not found', Tag=tag)
                digest = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
                return Reply(200, {"schemaVersion": 2}, {"Docker-Content-Digest": digest})
        return _error(404, "NOT_FOUND", f"{rec.method} {rec.path} is not modelled")
