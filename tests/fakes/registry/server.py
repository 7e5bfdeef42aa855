"""The data-plane API of an Azure Container Registry, as far as jhubctl uses it.

* ``POST /oauth2/exchange`` (form: ``grant_type=access_token``, ``service``, ``access_token``, optional
  ``tenant``): an Azure AD token becomes a registry refresh token (what ``az acr login`` does);
* ``POST /oauth2/token`` (form: ``grant_type=refresh_token``, ``service``, ``scope``, ``refresh_token``): an
  access token for that scope (``repository:<repo>:pull``);
* ``GET /oauth2/token?service=..&scope=..`` (the distribution token spec, ACR's "get from login"): an access
  token for a user and password known to the registry (``users``; an ACR refresh token is a password of the
  user ``00000000-0000-0000-0000-000000000000``), or without credentials when ``anonymous_pull`` is on (ACR's
  anonymous pull, Docker Hub's public images); else 401;
* ``HEAD``/``GET /v2/<repo>/manifests/<tag>`` with ``Authorization: Bearer <access token>``: 200 with
  ``Docker-Content-Digest``, 404 ``MANIFEST_UNKNOWN``, or 401 with the ``WWW-Authenticate`` challenge. A GET
  answers the manifest itself: a Docker v2 manifest naming its config blob for an image pushed for one
  platform (:meth:`FakeRegistry.push`), an OCI image index for one pushed for several
  (:meth:`FakeRegistry.push_index`, with the ``unknown/unknown`` attestation entry buildx adds);
* ``GET /v2/<repo>/blobs/<digest>``: the config blob (``os``, ``architecture``, ``variant``).

Errors have the distribution API's shape, ``{"errors": [{"code", "message", "detail"}]}``. Images get
there through :meth:`FakeRegistry.push` (the fake ACR Tasks call it when a run succeeds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs

from ..base.server import FakeServer, Reply


#: The user name that goes with an ACR refresh token used as a password.
TOKEN_USER = "00000000-0000-0000-0000-000000000000"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **detail: Any) -> Reply:
    return Reply(status, {"errors": [{"code": code, "message": message, "detail": detail or None}]}, headers or {})


class _NoFaults:
    def before(self, rec: Any) -> None:
        return None

    def after(self, rec: Any) -> None:
        return None


class FakeRegistry(FakeServer):
    name = "fake-registry"

    def __init__(self, *, aad_token: str | None = None, anonymous_pull: bool = False,
                 users: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults = _NoFaults()
        #: The Azure token the exchange accepts (None: any non-empty one).
        self.aad_token = aad_token
        self.anonymous_pull = anonymous_pull
        #: user -> password the token endpoint accepts with Basic auth.
        self.users = dict(users or {})
        #: (repository, tag) -> platform ("linux/amd64"), or a tuple of platforms for an index
        self.images: dict[tuple[str, str], str | tuple[str, ...]] = {}
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

    def push_index(self, repository: str, tag: str, platforms: tuple[str, ...]) -> None:
        """A multi-platform image (what ``docker buildx build --platform a,b --push`` makes)."""
        with self.lock:
            self.images[(repository, tag)] = tuple(platforms)

    @staticmethod
    def _digest(*parts: str) -> str:
        return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()

    @staticmethod
    def _config(platform: str) -> dict[str, Any]:
        os_name, arch, *variant = platform.split("/")
        return {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {}),
                "config": {"Entrypoint": ["tini", "-g", "--"]}}

    def _manifest(self, repository: str, tag: str, what: str | tuple[str, ...]) -> dict[str, Any]:
        if isinstance(what, str):
            return {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                               "digest": self._digest(repository, tag, "config", what)},
                    "layers": []}
        entries = [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1000,
                    "digest": self._digest(repository, tag, p), "platform": self._config(p) | {"config": None}}
                   for p in what]
        for entry in entries:
            entry["platform"] = {k: v for k, v in entry["platform"].items() if k != "config"}
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 566,
                        "digest": self._digest(repository, tag, "attestation"),
                        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                        "platform": {"architecture": "unknown", "os": "unknown"}})
        return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}

    def _blob(self, repository: str, digest: str) -> dict[str, Any] | None:
        for (repo, tag), what in self.images.items():
            if repo == repository and isinstance(what, str) and self._digest(repo, tag, "config", what) == digest:
                return self._config(what)
        return None

    def _challenge(self, scope: str) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer realm="https://{self.host}/oauth2/token",service="{self.host}",scope="{scope}"'}

    def _login(self, query: dict[str, str]) -> Reply:
        """GET /oauth2/token: Basic auth of a known user (or a refresh token), or anonymous if allowed."""
        if query.get("service") != self.host:
            return _error(400, "UNSUPPORTED", "service must be this registry")
        scheme, _, value = self._local.authorization.partition(" ")
        if scheme == "Basic":
            user, _, password = base64.b64decode(value).decode().partition(":")
            known = self.users.get(user) == password or (user == TOKEN_USER and password in self._refresh)
            if not known:
                return _error(401, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization "
                              "for more information.")
        elif not self.anonymous_pull:
            return _error(401, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for "
                          "more information.")
        token = secrets.token_hex(16)
        self._access[token] = query.get("scope", "")
        return Reply(200, {"access_token": token})

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
            if rec.method == "GET" and rec.path == "/oauth2/token":
                return self._login(rec.query)
            parts = rec.path.strip("/").split("/")
            if rec.method in ("HEAD", "GET") and len(parts) >= 4 and parts[0] == "v2" and parts[-2] in ("manifests", "blobs"):
                repository, reference = "/".join(parts[1:-2]), parts[-1]
                scope = f"repository:{repository}:pull"
                scheme, _, token = self._local.authorization.partition(" ")
                granted = self._access.get(token) if scheme == "Bearer" else None
                if granted is None or not (granted.startswith(f"repository:{repository}:") and "pull" in granted):
                    return _error(401, "UNAUTHORIZED", "authentication required", self._challenge(scope))
                if parts[-2] == "blobs":
                    blob = self._blob(repository, reference)
                    if blob is None:
                        return _error(404, "BLOB_UNKNOWN", "blob unknown to registry", Digest=reference)
                    return Reply(200, blob)
                if (repository, reference) not in self.images:
                    return _error(404, "MANIFEST_UNKNOWN", f'manifest tagged by "{reference}" is not found', Tag=reference)
                manifest = self._manifest(repository, reference, self.images[(repository, reference)])
                digest = "sha256:" + hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
                return Reply(200, manifest, {"Docker-Content-Digest": digest})
        return _error(404, "NOT_FOUND", f"{rec.method} {rec.path} is not modelled")
