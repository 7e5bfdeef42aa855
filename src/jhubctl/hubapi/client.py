"""The JupyterHub REST API (4.x) as the assistant and the operator need it.

Words follow the hub's own (`pending`, `ready`, named servers) so output can be matched with hub logs.
One named server per conversation: the server name is the validated conversation id, so one user can
hold several conversations at once, each with a stable URL, and the culler can remove them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import JhubctlError, NotFoundError, TimeoutExceeded
from ..retry import retry_after

ProgressCallback = Callable[[dict[str, Any]], None]

#: JupyterHub (>= 2) answers lists asked with this media type as pages: {"items": [...], "_pagination": {...}}.
PAGINATION = "application/jupyterhub-pagination+json"
#: Users asked for per page: JupyterHub's default api_page_max_limit. A hub with a lower maximum serves
#: fewer, and its `_pagination.next` says where the following page starts.
PAGE = 200


class HubError(JhubctlError):
    """The hub refused or failed a request; the message carries the hub's own words."""


class SpawnFailed(HubError):
    pass


@dataclass(frozen=True)
class Server:
    user: str
    name: str
    ready: bool
    pending: str | None
    url: str  # absolute URL through the proxy
    started: str | None = None
    last_activity: str | None = None
    user_options: dict[str, Any] | None = None

    @property
    def conversation(self) -> str:
        """The server name, or for the seed's default-server clients the id they sent in the body."""
        options = self.user_options or {}
        return self.name or str(options.get("conversation_id") or options.get("conversationId") or "")

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "conversation": self.conversation}


@dataclass(frozen=True)
class Token:
    """A minted token. `token` is the secret: shown once by the hub, never logged or stored by jhubctl."""

    user: str
    id: str
    token: str = field(repr=False)
    scopes: list[str]
    expires_at: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class StartResult:
    server: Server
    seconds: float
    already_running: bool


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body)
    return str(body)


def token_client(base_url: str, token: str, timeout: float, transport: httpx.BaseTransport | None) -> httpx.Client:
    """httpx with the token in a header, never in a URL (URLs end up in proxy and access logs).

    A plain-http hub (the local one) gets no CA bundle: there is no TLS to verify, and loading the bundle
    costs more than a whole execution. Redirects are not followed, so a request never moves to https.
    """
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"token {token}"}, timeout=timeout, transport=transport,
        verify=not base_url.startswith("http://"),
    )


def probe(url: str, timeout: float = 2.0) -> str | None:
    """The hub's version if its API answers at `url` (through the proxy), else None: a health check."""
    try:
        resp = httpx.get(f"{url.rstrip('/')}/hub/api/", timeout=timeout)
    except httpx.HTTPError:
        return None
    try:
        return str(resp.json().get("version")) if resp.status_code == 200 else None
    except ValueError:
        return None


class HubClient:
    """A thin, synchronous client: one httpx connection pool, the service token in a header (never in a URL)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.http = token_client(f"{self.url}/hub/api", token, timeout, transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # plumbing
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HubError(
                f"cannot reach the hub at {self.url} ({type(exc).__name__}: {exc})",
                hint="is it running? `jhubctl status` shows the hub URL; `jhubctl up` starts the local hub",
            ) from None

    def _check(self, resp: httpx.Response, what: str) -> httpx.Response:
        if resp.status_code in (401, 403):
            raise HubError(
                f"{what}: the hub refused the API token ({resp.status_code}: {_message(resp)})",
                hint="the token must belong to the hub's API service with its role; see `jhubctl token`",
            )
        if resp.status_code == 404:
            raise NotFoundError(f"{what}: not found ({_message(resp)})")
        if resp.status_code >= 400:
            raise HubError(f"{what}: hub answered {resp.status_code}: {_message(resp)}")
        return resp

    def server_url(self, user: str, server: str) -> str:
        suffix = f"{quote(server)}/" if server else ""
        return f"{self.url}/user/{quote(user)}/{suffix}"

    def _server(self, user: str, name: str, model: dict[str, Any]) -> Server:
        return Server(
            user=user,
            name=name,
            ready=bool(model.get("ready")),
            pending=model.get("pending"),
            url=self.server_url(user, name),
            started=model.get("started"),
            last_activity=model.get("last_activity"),
            user_options=model.get("user_options"),
        )

    # users
    def version(self) -> str:
        return self._check(self.request("GET", "/"), "hub version").json()["version"]

    def whoami(self) -> dict[str, Any]:
        """The model of the token's owner (a user or a service) with the token's scopes."""
        return self._check(self.request("GET", "/user"), "who owns the token").json()

    def get_user(self, user: str) -> dict[str, Any] | None:
        resp = self.request("GET", f"/users/{quote(user)}")
        if resp.status_code == 404:
            return None
        return self._check(resp, f"read user {user}").json()

    def user_exists(self, user: str) -> bool:
        """Whether the hub has `user`. A GET, so a per-user token (read:users!user) can ask about its own user."""
        return self.get_user(user) is not None

    def ensure_user(self, user: str) -> bool:
        """Create the user if missing; True if it was created.

        Asks first, so a token without admin:users (a per-user token) works for a user that exists. A 409
        on the create means someone else just made the user: fine.
        """
        if self.user_exists(user):
            return False
        resp = self.request("POST", f"/users/{quote(user)}")
        if resp.status_code == 409:
            return False
        self._check(resp, f"create user {user}")
        return True

    # tokens
    def new_token(self, user: str, *, scopes: list[str], expires_in: int, note: str) -> Token:
        """Mint a token owned by `user` (needs the `tokens` scope on that user).

        JupyterHub checks `scopes` against what the *user* holds, so a token can never exceed its owner.
        """
        body = {"scopes": scopes, "expires_in": expires_in, "note": note}
        model = self._check(self.request("POST", f"/users/{quote(user)}/tokens", json=body), f"token for {user}").json()
        return Token(
            user=user,
            id=str(model["id"]),
            token=str(model["token"]),
            scopes=list(model.get("scopes") or scopes),
            expires_at=model.get("expires_at"),
            note=str(model.get("note") or note),
        )

    def users(self, state: str | None = None, *, limit: int | None = None, page: int | None = None) -> list[dict[str, Any]]:
        """Users (`state`: active, ready or inactive), every page the hub has, one request each; at most `limit`.

        The following page is asked by the offset and limit of the hub's `_pagination.next`, not by its URL:
        that is the hub's view of itself (behind the proxy, an address the client may not reach). The hub
        pages rows of users joined with their servers, so a user with several servers can come on two
        pages: it is listed once.
        """
        found: dict[str, dict[str, Any]] = {}
        page = page or PAGE
        params: dict[str, Any] = {"offset": 0, "limit": min(limit or page, page), **({"state": state} if state else {})}
        while True:
            answer = self._check(self.request("GET", "/users", params=params, headers={"Accept": PAGINATION}),
                                 "list users").json()
            if isinstance(answer, list):  # a hub that does not page (JupyterHub < 2)
                answer = {"items": answer}
            for model in answer["items"]:
                found.setdefault(model["name"], model)
            following = (answer.get("_pagination") or {}).get("next")
            if not following or (limit is not None and len(found) >= limit):
                return list(found.values())[:limit]
            params |= {"offset": int(following["offset"]), "limit": int(following["limit"])}

    def servers(self, user: str | None = None, *, page: int | None = None) -> list[Server]:
        """Running (or pending) servers: of one user, or of every active user, however many pages that is."""
        if user is not None:
            model = self.get_user(user)
            if model is None:
                raise NotFoundError(f"no user {user!r} on the hub")
            users = [model]
        else:
            users = self.users("active", page=page)
        return [
            self._server(u["name"], name, model)
            for u in users
            for name, model in sorted((u.get("servers") or {}).items())
        ]

    def server(self, user: str, name: str) -> Server | None:
        model = self.get_user(user)
        if model is None or name not in (model.get("servers") or {}):
            return None
        return self._server(user, name, model["servers"][name])

    # servers
    def _server_path(self, user: str, name: str) -> str:
        return f"/users/{quote(user)}/servers/{quote(name)}" if name else f"/users/{quote(user)}/server"

    def start_server(
        self,
        user: str,
        name: str,
        options: dict[str, Any],
        *,
        timeout: float,
        idle_timeout: float,
        on_progress: ProgressCallback | None = None,
    ) -> StartResult:
        """Start (or find running) a server and wait until it is ready.

        The chart's hub answers 202 almost always, so readiness comes from the progress stream. 429 is
        retried after Retry-After; a server still stopping is waited for, then started.
        """
        began = time.monotonic()
        deadline = began + timeout
        path = self._server_path(user, name)
        while True:
            resp = self.request("POST", path, json=options)
            if resp.status_code == 201:
                break
            if resp.status_code == 202:
                self._follow(user, name, deadline, idle_timeout, on_progress)
                break
            if resp.status_code == 429:
                wait = retry_after(resp.headers.get("Retry-After"))
                self._sleep_until(min(time.monotonic() + wait, deadline), deadline, f"start {user}/{name}")
                continue
            if resp.status_code == 400:
                current = self.server(user, name)
                if current is not None and current.ready and not current.pending:
                    return StartResult(current, time.monotonic() - began, already_running=True)
                if current is not None and current.pending == "spawn":
                    self._follow(user, name, deadline, idle_timeout, on_progress)
                    break
                if current is not None and current.pending == "stop":
                    self._sleep_until(time.monotonic() + 0.2, deadline, f"start {user}/{name} (waiting for stop)")
                    continue
            self._check(resp, f"start server {user}/{name}")
            raise HubError(f"start server {user}/{name}: unexpected answer {resp.status_code}: {_message(resp)}")
        server = self.server(user, name)
        if server is None or not server.ready:
            raise HubError(f"server {user}/{name} reported ready but the hub does not list it as ready")
        return StartResult(server, time.monotonic() - began, already_running=False)

    @staticmethod
    def _sleep_until(until: float, deadline: float, what: str) -> None:
        if time.monotonic() >= deadline:
            raise TimeoutExceeded(f"{what}: timed out", hint="raise --timeout, or see `jhubctl status`")
        time.sleep(max(0.0, until - time.monotonic()))

    def progress_events(self, user: str, name: str, *, idle_timeout: float, deadline: float) -> Iterator[dict[str, Any]]:
        """The spawn's event stream. Keep-alive blank lines arrive every 8 s, so idleness is counted by events."""
        path = f"{self._server_path(user, name)}/progress"
        last_event = time.monotonic()
        read_timeout = min(idle_timeout, 10.0)
        try:
            with self.http.stream("GET", path, timeout=httpx.Timeout(10.0, read=read_timeout)) as resp:
                if resp.status_code == 400:
                    return  # not pending any more: the caller checks the server model
                self._check(resp, f"progress of {user}/{name}")
                lines = resp.iter_lines()
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        raise TimeoutExceeded(
                            f"server {user}/{name} did not become ready in time",
                            hint="raise --timeout; `jhubctl status` and the hub log show what the spawner is doing",
                        )
                    if now - last_event >= idle_timeout:
                        raise TimeoutExceeded(f"server {user}/{name}: no progress for {idle_timeout:g} s")
                    try:
                        line = next(lines)
                    except StopIteration:
                        return
                    except httpx.ReadTimeout:
                        continue
                    if not line.startswith("data:"):
                        continue
                    last_event = time.monotonic()
                    yield json.loads(line[5:].strip())
        except httpx.TransportError as exc:
            raise HubError(f"progress stream of {user}/{name} broke: {exc}") from None

    def _follow(
        self, user: str, name: str, deadline: float, idle_timeout: float, on_progress: ProgressCallback | None
    ) -> None:
        for event in self.progress_events(user, name, idle_timeout=idle_timeout, deadline=deadline):
            if on_progress is not None:
                on_progress(event)
            if event.get("failed"):
                raise SpawnFailed(f"server {user}/{name} failed to start: {event.get('message', 'no reason given')}")
            if event.get("ready"):
                return
        # The stream ended without a verdict (or was not pending): poll the model until it settles.
        while True:
            server = self.server(user, name)
            if server is None:
                raise SpawnFailed(f"server {user}/{name} failed to start (it is gone; see the hub log)")
            if server.ready:
                return
            if server.pending is None:
                raise SpawnFailed(f"server {user}/{name} stopped while starting (see the hub log)")
            self._sleep_until(time.monotonic() + 0.2, deadline, f"start {user}/{name}")

    def stop_server(self, user: str, name: str, *, remove: bool = False, timeout: float = 60.0) -> bool:
        """Stop (and with `remove` delete) a server; waits for a pending stop. False if there was nothing to stop."""
        deadline = time.monotonic() + timeout
        if not remove and self.server(user, name) is None:
            return False  # the hub lists only active servers: nothing to stop
        body = {"remove": True} if remove and name else None
        resp = self.request("DELETE", self._server_path(user, name), json=body)
        if resp.status_code == 404:
            return False
        if resp.status_code == 400 and self.server(user, name) is None:
            return False
        self._check(resp, f"stop server {user}/{name}")
        while (current := self.server(user, name)) is not None and (
            current.pending == "stop" or (remove and name)
        ):
            self._sleep_until(time.monotonic() + 0.2, deadline, f"stop {user}/{name}")
        return True
