"""Hub checks (JH4xx): the hub as its API client sees it, through the proxy, with the assistant's token.

On every target: the API answers at the URL the target recorded (or hub.url), the token is the service's
with the scopes jhubctl grants it, named servers are on (one per conversation), the idle culler runs with
the configured timeout, no server hangs in a pending spawn. The culler is read where the seed looked for
it by hand: the hub's own log says which services it started and whether they exited.
"""

from __future__ import annotations

import ast
import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import JhubctlError, NotFoundError
from ..hubapi.client import _message  # the hub's own words of an answer, as every hub command shows them
from .finding import Outcome, Skip, fail, ok, warn
from .fixes import fix
from .runner import Facts, checker, gate

if TYPE_CHECKING:
    import httpx

    from ..hubapi.client import HubClient

check = checker("hub")

#: Seconds any one request may take.
TIMEOUT = 10.0
#: Bytes read from the start of the hub container's log: the start-up lines, however long it has run.
LOG_BYTES = 512 * 1024
_STARTED = re.compile(r"Starting service '(?P<name>[^']+)': (?P<command>\[.*\])\s*$")
_EXITED = re.compile(r"Service (?P<name>\S+) exited with status (?P<code>-?\d+)")
_HUB_START = "Running JupyterHub version"


# -- facts -----------------------------------------------------------------------------------------------------
def url(f: Facts) -> str:
    from ..targets import target_for

    return f.once("hub url", lambda: target_for(f.loaded).hub_url())


def token(f: Facts) -> str | None:
    def read() -> str | None:
        from ..state import Secrets

        value = Secrets(f.loaded.state_dir, f.loaded.environ).api_token(create=False)
        f.secret(value)
        return value

    return f.once("hub token", read)


def client(f: Facts) -> HubClient:
    def make() -> HubClient:
        from ..hubapi.client import HubClient

        made = HubClient(url(f), token(f) or "", timeout=TIMEOUT)
        f.closing(made.close)
        return made

    return f.once("hub client", make)


def version(f: Facts) -> str:
    def ask() -> str:
        from ..hubapi.client import HubError

        answer = client(f).request("GET", "/")
        try:
            found = answer.json().get("version") if answer.status_code == 200 else None
        except ValueError:
            found = None
        if not found:
            raise HubError(f"GET {url(f)}/hub/api/ answered {answer.status_code}, not a JupyterHub version")
        return str(found)

    return f.once("hub version", ask)


def hub(f: Facts) -> HubClient:
    """The client, once the API has answered; else the check is skipped naming JH401."""
    gate("the hub API did not answer (JH401)", lambda: version(f))
    return client(f)


def me(f: Facts) -> httpx.Response:
    return f.once("hub me", lambda: hub(f).request("GET", "/user"))


def authorized(f: Facts) -> HubClient:
    hub(f)
    if not token(f):
        raise Skip("there is no API token (JH402)")
    if me(f).status_code != 200:
        raise Skip(f"the hub refused the API token (JH402): {me(f).status_code}")
    return client(f)


def users(f: Facts, state: str | None = None, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Users (``state``: active/ready; at most ``limit``), page by page as the hub serves them (200 a page)."""
    return f.once(f"hub users {state} {limit}", lambda: authorized(f).users(state, limit=limit))


def on_cluster(f: Facts) -> bool:
    return f.config.target != "local"


def _setup(f: Facts) -> str:
    """What (re)deploys the hub on this target."""
    return fix("deploy-hub") if on_cluster(f) else fix("local-up")


def _restart(f: Facts) -> str:
    """What makes the hub read its configuration (services, tokens, roles) again."""
    return fix("deploy-hub") if on_cluster(f) else fix("local-restart")


# -- checks ----------------------------------------------------------------------------------------------------
@check("JH401", "the hub API answers through the proxy")
def api_reachable(f: Facts) -> Outcome:
    try:
        where = url(f)
    except NotFoundError as exc:
        return fail(f"no hub to check: {exc.message}", [f"state dir: {f.loaded.state_dir}"], _setup(f))
    try:
        found = version(f)
    except JhubctlError as exc:
        return fail(f"the hub API does not answer at {where}: {exc.message}", [f"GET {where}/hub/api/"], _setup(f))
    return ok(f"JupyterHub {found} answers at {where}", [f"GET {where}/hub/api/: version {found}"])


@check("JH402", "the API token is the service's, with the scopes it needs")
def token_scopes(f: Facts) -> Outcome:
    from ..services import API_SERVICE_SCOPES
    from ..state import Secrets

    source = Secrets(f.loaded.state_dir, f.loaded.environ).api_token_source()
    hub(f)  # no hub, nothing to ask: JH401 says why
    if not token(f):
        return fail("there is no API token", [f"looked in: {source}"], _setup(f))
    answer = me(f)
    evidence = [f"token from: {source}", f"GET /hub/api/user: {answer.status_code}"]
    if answer.status_code != 200:
        evidence[-1] += f" {_message(answer)}"
        return fail("the hub refuses the API token: it does not know it", evidence, _restart(f))
    model = answer.json()
    scopes = set(model.get("scopes") or [])
    owner = f"{model.get('kind')} {model.get('name')}"
    evidence += [f"owner: {owner}", f"scopes needed: {', '.join(API_SERVICE_SCOPES)}"]
    missing = [s for s in API_SERVICE_SCOPES if s not in scopes]
    if missing:
        return fail(f"the token lacks {', '.join(missing)}: starting servers or users fails", evidence, _restart(f))
    wanted = f.config.hub.api_service_name
    if model.get("kind") != "service" or model.get("name") != wanted:
        return warn(f"the token belongs to {owner}, not to the service {wanted} (hub.api_service_name)", evidence,
                    _restart(f))
    return ok(f"the token is service {wanted}'s, with {', '.join(API_SERVICE_SCOPES)}", evidence)


@check("JH403", "named servers are enabled (one server per conversation)")
def named_servers(f: Facts) -> Outcome:
    hub_ = authorized(f)
    user = f.user or next((u["name"] for u in users(f, limit=1)), None)
    if user is None:
        raise Skip("the hub has no user yet to ask with (any start-server makes one)")
    probe = f"diagnose-{secrets.token_hex(4)}"  # no conversation has this name: nothing is stopped
    answer = hub_.request("DELETE", f"/users/{quote(user)}/servers/{probe}")
    said = f"DELETE /hub/api/users/{user}/servers/{probe}: {answer.status_code} {_message(answer)}"
    if answer.status_code == 400 and "not enabled" in _message(answer):
        return fail("named servers are off: a user can hold one conversation at a time", [said], _restart(f))
    if answer.status_code == 404:
        return ok("named servers are on", [said])
    raise Skip(f"the hub's answer says neither: {said}")


def hub_log(f: Facts) -> tuple[str, str]:
    """The hub's log since it last started, and where it was read."""

    def read() -> tuple[str, str]:
        if not on_cluster(f):
            if f.config.hub.url:
                raise Skip("hub.url names a hub jhubctl does not run: its log is out of reach")
            from ..local.process import HubProcess

            recorded = HubProcess(f.loaded).recorded()
            if recorded is None:
                raise Skip("no local hub is recorded (JH110)")
            try:
                text = recorded.log.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise Skip(f"cannot read the hub's log {recorded.log}: {exc.strerror}") from None
            start = text.rfind(_HUB_START)
            return (text[text.rfind("\n", 0, start) + 1:] if start >= 0 else text), str(recorded.log)
        from . import cluster

        found = [p for p in cluster.pods(f) if cluster.component(p) == "hub"]
        if not found:
            raise Skip("there is no hub pod to read the log of (JH320)")
        name = found[0]["metadata"]["name"]
        text = cluster.api(f).log(name, cluster.namespace(f), container="hub", limit_bytes=LOG_BYTES)
        return text, f"log of pod {cluster.namespace(f)}/{name}"

    return f.once("hub log", read)


def _culler(command: list[str]) -> bool:
    return any("jupyterhub_idle_culler" in part or "jupyterhub-idle-culler" in part for part in command)


def _flag(command: list[str], name: str) -> str | None:
    for i, part in enumerate(command):
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
        if part == name and i + 1 < len(command):
            return command[i + 1]
    return None


@check("JH404", "the idle culler runs with the configured timeout")
def culler(f: Facts) -> Outcome:
    cull = f.config.hub.cull
    text, where = hub_log(f)
    started: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    for line in text.splitlines():
        if (m := _STARTED.search(line)) is not None:
            try:
                command = [str(part) for part in ast.literal_eval(m.group("command"))]
            except (ValueError, SyntaxError):
                continue
            if _culler(command):
                started[m.group("name")] = command
        elif (m := _EXITED.search(line)) is not None:
            exits.setdefault(m.group("name"), []).append(line.strip())
    evidence = [f"read: {where}"] + [f"started {name}: {' '.join(cmd)}" for name, cmd in started.items()]
    evidence += [line for lines in exits.values() for line in lines[-2:]]
    if not started:
        if not cull.enabled:
            return ok("culling is off (hub.cull.enabled: false) and no culler runs", evidence)
        if _HUB_START not in text:
            raise Skip(f"the hub's log no longer shows its start-up ({where}); restart the hub to see it again")
        return fail("no idle culler started: idle servers are never stopped", evidence,
                    fix("cull-enable", file=str(f.loaded.path or "jhubctl.yaml"),
                        command="deploy-hub" if on_cluster(f) else "up"))
    if not cull.enabled:
        return warn("a culler runs although hub.cull.enabled is false", evidence, _restart(f))
    crashed = [name for name in started if exits.get(name)]
    if crashed:
        remedy = (fix("hub-package", module="jupyterhub_idle_culler") if on_cluster(f) else fix("local-extra"))
        return fail(f"the culler {crashed[0]} exits right after it starts (the hub restarts it, again and again)",
                    evidence, remedy)
    if len(started) > 1:
        return warn(f"{len(started)} cullers run ({', '.join(started)}): the chart's own and another one", evidence,
                    _restart(f))
    name, command = next(iter(started.items()))
    timeout = _flag(command, "--timeout")
    if timeout != str(cull.timeout):
        return fail(f"the culler stops servers after {timeout} s idle, the config says {cull.timeout} (hub.cull.timeout)",
                    evidence, _restart(f))
    return ok(f"{name} runs with --timeout={timeout}", evidence)


def _age(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None


@check("JH405", "no server hangs in a pending spawn or stop")
def stuck_servers(f: Facts) -> Outcome:
    limit = f.config.servers.start_timeout
    active = users(f, "active")
    stuck = []
    for user in active:
        for name, server in (user.get("servers") or {}).items():
            age = _age(server.get("started"))
            if server.get("pending") and age is not None and age > limit:
                stuck.append((user["name"], name, server["pending"], age))
    count = sum(len(u.get("servers") or {}) for u in active)
    if not stuck:
        return ok(f"no server pending longer than {limit:g} s ({count} active)")
    user, name, _, _ = stuck[0]
    evidence = [f"server {u}/{n}: pending {p} for {int(a)} s (servers.start_timeout: {limit:g})" for u, n, p, a in stuck]
    return fail(f"{len(stuck)} server{'s' if len(stuck) > 1 else ''} pending longer than the start timeout", evidence,
                fix("stop-server", user=user, conversation=name or "<conversation>"))


@check("JH406", "the user's conversation servers", per_user=True)
def user_servers(f: Facts) -> Outcome:
    assert f.user is not None  # the command line checked and normalised both names
    user, conversation = f.user, f.conversation
    answer = authorized(f).request("GET", f"/users/{quote(user)}")
    if answer.status_code == 404:
        return fail(f"the hub has no user {user}", [f"GET /hub/api/users/{user}: 404"],
                    fix("start-server", user=user, conversation=conversation) if conversation else fix("servers"))
    model = answer.json()
    servers = model.get("servers") or {}
    evidence = [f"server {user}/{name}: " + ("ready" if s.get("ready") else f"pending {s.get('pending')}")
                + f", started {s.get('started')}, last activity {s.get('last_activity')}, url {s.get('url')}"
                for name, s in sorted(servers.items())]
    if conversation is None:
        return ok(f"user {user} has {len(servers)} running server{'s' if len(servers) != 1 else ''}",
                  evidence or ["no running server"])
    server = servers.get(conversation)
    if server is None:
        return fail(f"user {user} has no running server for conversation {conversation}", evidence or ["no running server"],
                    fix("start-server", user=user, conversation=conversation))
    if not server.get("ready"):
        return warn(f"{user}/{conversation} is pending {server.get('pending')}", evidence,
                    fix("stop-server", user=user, conversation=conversation))
    return ok(f"{user}/{conversation} is ready at {server.get('url')}", evidence)
