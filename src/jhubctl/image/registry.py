"""Which platforms an image is published for, read from its registry (the OCI distribution API).

The seed checked this by hand (``docker inspect ... | grep Architecture``) after an ``exec format error``;
here the registry answers without pulling anything: ``GET /v2/<repo>/manifests/<tag>`` with every manifest
media type in ``Accept``. An image index (manifest list) names its platforms (attestation entries,
``unknown/unknown``, are left out); a single manifest names its config blob, whose ``os`` and
``architecture`` say it.

Auth is the registries' own token dance: a 401 with ``WWW-Authenticate: Bearer realm=..,service=..,scope=..``
is answered by asking the realm for a token, anonymously (Docker Hub, public images), with a user and
password (an ACR service principal), or with an ACR refresh token (``grant_type=refresh_token``, what
``az acr login`` leaves behind). Hosts are HTTPS only; a registry's address is the image reference's.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import JhubctlError

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
TIMEOUT = 15.0


def trust() -> Any:
    """The same trust store as the Azure SDK (requests reads REQUESTS_CA_BUNDLE), for registries on private CAs."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle) if bundle else True


class RegistryError(JhubctlError):
    """The registry refused or failed; ``status`` is its HTTP status (None: not reached)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reference:
    host: str  # as written (docker.io for Docker Hub)
    repository: str
    tag: str  # a tag or a digest

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    def __str__(self) -> str:
        sep = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.host}/{self.repository}{sep}{self.tag}"


def parse(image: str) -> Reference:
    """``host[:port]/repo[:tag|@digest]``; no host means Docker Hub (``library/`` for one-part names)."""
    name, _, digest = image.partition("@")
    head, _, last = name.rpartition("/")
    repo_last, _, tag = last.partition(":")
    name = f"{head}/{repo_last}" if head else repo_last
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = DOCKER_HUB, name
        if "/" not in repository:
            repository = f"library/{repository}"
    return Reference(host, repository, digest or tag or "latest")


@dataclass(frozen=True)
class Basic:
    username: str
    password: str

    def __repr__(self) -> str:  # never shown, not even in a traceback
        return f"Basic({self.username!r}, <redacted>)"


@dataclass(frozen=True)
class Refresh:
    token: str

    def __repr__(self) -> str:
        return "Refresh(<redacted>)"


Credential = Basic | Refresh | None

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def platform_of(entry: dict[str, Any]) -> str:
    platform = entry.get("platform") or entry
    text = f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"
    return text + (f"/{platform['variant']}" if platform.get("variant") else "")


class Registry:
    """One HTTP client for any number of registries; ``credentials`` by API host."""

    def __init__(self, credentials: dict[str, Credential] | None = None, *, verify: Any = None,
                 transport: httpx.BaseTransport | None = None):
        self.credentials = dict(credentials or {})
        self.http = httpx.Client(timeout=TIMEOUT, verify=trust() if verify is None else verify, transport=transport,
                                 follow_redirects=True)
        self._tokens: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self.http.close()

    def platforms(self, image: str) -> list[str]:
        """``["linux/amd64", "linux/arm64/v8"]``: what the image runs on, from its manifest."""
        ref = parse(image)
        manifest = self._get(ref, f"manifests/{ref.tag}", {"Accept": ", ".join(MANIFEST_TYPES)}).json()
        media = manifest.get("mediaType") or ""
        if media in INDEX_TYPES or "manifests" in manifest:
            found = [platform_of(m) for m in manifest.get("manifests") or []]
            return sorted({p for p in found if not p.startswith("unknown/")})
        digest = (manifest.get("config") or {}).get("digest")
        if not digest:
            raise RegistryError(f"{ref}: the manifest names no config blob (schema 1 images are not supported)")
        return [platform_of(self._get(ref, f"blobs/{digest}", {}).json())]

    def _get(self, ref: Reference, path: str, headers: dict[str, str]) -> httpx.Response:
        url = f"https://{ref.api_host}/v2/{ref.repository}/{path}"
        scope = f"repository:{ref.repository}:pull"
        token = self._tokens.get((ref.api_host, scope))
        answer = self._send("GET", url, ref, headers=headers | ({"Authorization": f"Bearer {token}"} if token else {}))
        if answer.status_code == 401 and answer.headers.get("WWW-Authenticate", "").lower().startswith("bearer"):
            token = self._token(ref, answer.headers["WWW-Authenticate"], scope)
            answer = self._send("GET", url, ref, headers=headers | {"Authorization": f"Bearer {token}"})
        if answer.status_code != 200:
            raise RegistryError(f"{ref}: {ref.api_host} answered {answer.status_code} {error_text(answer)}",
                                status=answer.status_code)
        return answer

    def _token(self, ref: Reference, challenge: str, scope: str) -> str:
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{ref}: {ref.api_host} asked for a token without naming where to get it")
        query = {"service": params.get("service", ref.api_host), "scope": params.get("scope", scope)}
        credential = self.credentials.get(ref.api_host)
        if isinstance(credential, Refresh):
            answer = self._send("POST", realm, ref, data={**query, "grant_type": "refresh_token",
                                                          "refresh_token": credential.token})
        else:
            auth = (credential.username, credential.password) if isinstance(credential, Basic) else None
            answer = self._send("GET", realm, ref, params=query, auth=auth)
        if answer.status_code != 200:
            who = "anonymously" if credential is None else "with the credential jhubctl has for it"
            raise RegistryError(f"{ref}: {ref.api_host} gave no pull token {who}: {answer.status_code} {error_text(answer)}",
                                status=answer.status_code)
        body = answer.json()
        token = str(body.get("token") or body.get("access_token") or "")
        self._tokens[(ref.api_host, scope)] = token
        return token

    def _send(self, method: str, url: str, ref: Reference, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{ref}: cannot reach {httpx.URL(url).host}: {exc}") from None


def error_text(answer: httpx.Response) -> str:
    """The distribution API's ``{"errors": [{"code", "message"}]}``, else the start of the body."""
    try:
        errors = answer.json().get("errors") or [{}]
        return f"{errors[0].get('code', '')}: {errors[0].get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        return answer.text.strip()[:200]
