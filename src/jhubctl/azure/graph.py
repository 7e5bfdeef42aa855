"""Microsoft Graph, for the seed's service-principal identity: an application, its service principal and
a client secret.

The secret exists only in memory: Graph returns `secretText` once, jhubctl hands it to the step that
needs it and never writes it anywhere. A secret is added only when something needs one (a cluster
create, a pull secret), at most once per run.
"""

from __future__ import annotations

import os
import ssl
import time
from typing import Any

import httpx

from ..retry import retry_after
from .credentials import GRAPH_TOKEN_ENV
from .errors import AzureError

#: Attempts for throttled (429) or unavailable (503/504) answers, as the ARM SDK retries its own.
RETRIES = 4


class Graph:
    def __init__(self, endpoint: str, credential: Any, *, timeout: float = 30.0):
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        # Same trust store as the ARM SDK (requests): one CA bundle setting for both, as `az` users expect.
        bundle = os.environ.get("REQUESTS_CA_BUNDLE")
        verify: Any = ssl.create_default_context(cafile=bundle) if bundle else True
        self.http = httpx.Client(base_url=f"{self.endpoint}/v1.0", timeout=timeout, verify=verify)

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self.credential.get_token(f"{self.endpoint}/.default").token
        for attempt in range(RETRIES):
            try:
                resp = self.http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            except httpx.TransportError as exc:
                raise AzureError(f"cannot reach Microsoft Graph at {self.endpoint}: {exc}",
                                 hint="check azure.graph_endpoint / JHUBCTL_GRAPH_ENDPOINT") from None
            if resp.status_code not in (429, 503, 504) or attempt == RETRIES - 1:
                break
            time.sleep(min(retry_after(resp.headers.get("Retry-After"), default=2.0**attempt), 30.0))
        if resp.status_code >= 400:
            try:
                error = resp.json().get("error", {})
            except ValueError:
                error = {}
            code = error.get("code") or f"HTTP{resp.status_code}"
            hint = (f"the Graph token is refused: log in again, or refresh {GRAPH_TOKEN_ENV}" if resp.status_code == 401
                    else "the identity needs Application.ReadWrite.All (or to own the app)")
            raise AzureError(f"Microsoft Graph {method} {path}: {code}: {error.get('message', resp.text[:200])}",
                             code=code, hint=hint)
        return resp.json() if resp.content else None

    def _one(self, path: str, filter_: str) -> dict[str, Any] | None:
        found = self._request("GET", path, params={"$filter": filter_})["value"]
        return found[0] if found else None

    def find_application(self, display_name: str) -> dict[str, Any] | None:
        quoted = display_name.replace("'", "''")  # OData string literal
        return self._one("/applications", f"displayName eq '{quoted}'")

    def create_application(self, display_name: str) -> dict[str, Any]:
        return self._request("POST", "/applications", json={"displayName": display_name})

    def find_service_principal(self, app_id: str) -> dict[str, Any] | None:
        return self._one("/servicePrincipals", f"appId eq '{app_id}'")

    def create_service_principal(self, app_id: str) -> dict[str, Any]:
        return self._request("POST", "/servicePrincipals", json={"appId": app_id})

    def add_password(self, app_object_id: str, display_name: str) -> str:
        body = {"passwordCredential": {"displayName": display_name}}
        return self._request("POST", f"/applications/{app_object_id}/addPassword", json=body)["secretText"]

    def delete_application(self, app_object_id: str) -> None:
        self._request("DELETE", f"/applications/{app_object_id}")
