"""A user's Jupyter server, reached through the hub's proxy with the service token (scope access:servers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .client import HubError, token_client


class ServerClient:
    """The server's REST API. `http` is the hub client's connection pool when given (same host, same
    token): one pool per process, and for an https hub one CA bundle loaded, not two."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 http: httpx.Client | None = None):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token
        self._own = http is None
        self.http = http if http is not None else token_client(f"{self.base_url}api", token, timeout, transport)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, f"{self.base_url}api{path}", **kwargs)
        except httpx.TransportError as exc:
            raise HubError(f"cannot reach the user server at {self.base_url} ({exc})") from None
        if resp.status_code >= 400 and resp.status_code != 404:
            raise HubError(f"user server answered {resp.status_code} to {method} {path}: {resp.text.strip()[:300]}")
        return resp

    def sessions(self) -> list[dict[str, Any]] | None:
        """The server's sessions, or None if no server answers here (the hub redirects a stopped one's URL)."""
        try:
            resp = self.http.get(f"{self.base_url}api/sessions")
        except httpx.TransportError:
            return None
        if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("application/json"):
            return None
        return resp.json()

    def kernel_session(self, notebook: str, kernel_name: str = "python3",
                       sessions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The session of `notebook`, created if missing: one kernel per conversation, kept across calls."""
        if sessions is None:
            sessions = self._request("GET", "/sessions").json()
        for session in sessions:
            if session.get("path") == notebook and session.get("kernel"):
                return session
        body = {"path": notebook, "name": notebook, "type": "notebook", "kernel": {"name": kernel_name}}
        resp = self._request("POST", "/sessions", json=body)
        if resp.status_code == 404:
            raise HubError(f"the user server has no sessions API at {self.base_url}")
        return resp.json()

    def interrupt(self, kernel_id: str) -> None:
        self._request("POST", f"/kernels/{quote(kernel_id)}/interrupt")

    def kernel_ws_url(self, kernel_id: str) -> str:
        return f"{self.base_url.replace('http', 'ws', 1)}api/kernels/{quote(kernel_id)}/channels"

    def get_notebook(self, path: str) -> dict[str, Any] | None:
        resp = self._request("GET", f"/contents/{quote(path)}", params={"type": "notebook", "content": "1"})
        if resp.status_code == 404:
            return None
        return resp.json()["content"]

    def put_notebook(self, path: str, notebook: dict[str, Any]) -> None:
        body = {"type": "notebook", "format": "json", "content": notebook}
        resp = self._request("PUT", f"/contents/{quote(path)}", json=body)
        if resp.status_code == 404:
            raise HubError(f"cannot save {path}: the user server has no contents API")

    def read_file(self, path: str) -> str | None:
        resp = self._request("GET", f"/contents/{quote(path)}", params={"type": "file", "format": "text", "content": "1"})
        if resp.status_code == 404:
            return None
        return resp.json()["content"]
