"""`jhubctl logs`: the right log for hub, proxy, culler or a user's conversation, so nobody has to find
`hub-...` with `kubectl get pods` first.

On a cluster a log is a pod's: the chart's labels find the hub and proxy pods, KubeSpawner's labels a
user's pod (``hub.jupyter.org/username`` and ``servername``, escaped as KubeSpawner escapes them), and the
culler runs inside the hub's container, so its lines are the hub log's lines in the culler's own format.
On the local target every process writes to the one hub log: a component's lines are recognised by
their format (JupyterHub, the proxy, the culler's tornado lines), a conversation's by the lines that name
its server (``/user/<user>/<conversation>/``, ``<user>:<conversation>``). Lines without a prefix
(tracebacks) go with the line before them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Loaded
from .errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from .kube.client import KubeClient

COMPONENTS = ("hub", "proxy", "culler")
#: The chart's container in each component's pod.
CONTAINERS = {"hub": "hub", "proxy": "chp", "culler": "hub"}
USER_CONTAINER = "notebook"
#: Seconds between looks at a local log that is followed.
POLL = 0.2

#: `[I 2024-05-01 10:00:00.101 JupyterHub app:2859]`, the proxy's `[I 2024-05-01 10:00:00,358
#: configurable_http_proxy]`, tornado's (the culler's) `[I 240501 10:00:00 __init__:362]`.
_PREFIX = re.compile(r"^\[(?P<level>[A-Z]) (?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?|\d{6} \d\d:\d\d:\d\d) "
                     r"(?P<source>[^\]]*)\]")
_NODE_PROXY = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \[ConfigProxy\]")


def escape(name: str) -> str:
    """KubeSpawner's label escaping of a (validated: a-z, 0-9, '-', '_') name: '-' is -2d, '_' is -5f."""
    return "".join(f"-{ord(c):x}" if c in "-_" else c for c in name)


def origin(line: str) -> str | None:
    """hub | proxy | culler | server for a prefixed line of a local hub's log; None for a continuation."""
    if _NODE_PROXY.match(line):
        return "proxy"
    match = _PREFIX.match(line)
    if match is None:
        return None
    source = match.group("source")
    if re.fullmatch(r"\d{6} \d\d:\d\d:\d\d", match.group("stamp")):
        return "culler"
    if source.startswith("configurable_http_proxy"):
        return "proxy"
    if source.startswith(("JupyterHub", "alembic")):
        return "hub"
    return "server"


def stamp(line: str) -> datetime | None:
    """When a prefixed line was written (the hub logs local time)."""
    match = _PREFIX.match(line)
    if match is None:
        return None
    text = match.group("stamp").replace(",", ".")
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%y%m%d %H:%M:%S"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def culler_line(line: str) -> bool:
    return origin(line) == "culler" or "idle-culler" in line or "idle_culler" in line


Select = Callable[[str], bool]


def _selector(target: str, conversation: str | None) -> Select:
    """Which lines of a local hub's log belong to the target."""
    if target == "hub":
        return lambda line: True
    if target == "proxy":
        return lambda line: origin(line) == "proxy"
    if target == "culler":
        return culler_line
    names = [f"/user/{target}/{conversation}/", f"{target}:{conversation}", f"{conversation} of {target}"] if conversation \
        else [f"/user/{target}/", f"{target}:", f" of {target} "]
    return lambda line: any(name in line for name in names)


def keep(lines: Iterator[str], select: Select, since: float | None) -> Iterator[str]:
    """The selected lines (with their continuation lines), written in the last ``since`` seconds."""
    after = datetime.now() - timedelta(seconds=since) if since is not None else None
    chosen = False
    for line in lines:
        when = stamp(line)
        if origin(line) is not None:
            chosen = select(line) and (after is None or when is None or when >= after)
        if chosen:
            yield line


@dataclass
class Log(AbstractContextManager["Log"]):
    """An open log: where it is (for the operator), its lines, and what to close afterwards."""

    where: str
    lines: Iterator[str]
    close: Callable[[], None] = lambda: None

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_log(loaded: Loaded, target: str, conversation: str | None = None, *, previous: bool = False,
             follow: bool = False, since: float | None = None) -> Log:
    """The log of ``target`` (hub, proxy, culler, or a user name with an optional conversation)."""
    if loaded.config.target == "local" and not loaded.config.hub.url:
        return _local(loaded, target, conversation, previous=previous, follow=follow, since=since)
    if loaded.config.target == "local":
        raise UsageError("hub.url names a hub jhubctl does not run: its logs are where that hub runs")
    return _cluster(loaded, target, conversation, previous=previous, follow=follow, since=since)


def _local(loaded: Loaded, target: str, conversation: str | None, *, previous: bool, follow: bool,
           since: float | None) -> Log:
    from .local.process import HubProcess

    if previous:
        raise UsageError("--previous reads the last run of a crashed container; the local hub keeps one log",
                         hint="`jhubctl logs hub` shows all of it, earlier runs included")
    hub = HubProcess(loaded).recorded()
    if hub is None or not hub.log.exists():
        raise NotFoundError(f"no local hub has run from {loaded.state_dir}", hint="`jhubctl up` starts one")
    select = _selector(target, conversation)
    what = "" if target == "hub" else f" (the lines of {target}{'/' + conversation if conversation else ''})"
    return Log(f"{hub.log}{what}", keep(_read(hub.log, follow), select, since))


def _read(path: Path, follow: bool) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        pending = ""
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending.rstrip("\n")
                    pending = ""
                continue
            if not follow:
                if pending:
                    yield pending
                return
            time.sleep(POLL)


def _cluster(loaded: Loaded, target: str, conversation: str | None, *, previous: bool, follow: bool,
             since: float | None) -> Log:
    from .kube.connect import cluster

    kube = cluster(loaded)
    try:
        namespace = loaded.config.kubernetes.namespace
        pod, container = _pod(kube, loaded, target, conversation)
        where = f"pod {namespace}/{pod} container {container}" + (" (its previous run)" if previous else "") \
            + (" (the culler's lines)" if target == "culler" else "")
        seconds = None if since is None else max(1, int(since))
        if follow:
            lines: Iterator[str] = kube.follow_log(pod, namespace, container=container, since=seconds)
        else:
            text = kube.log(pod, namespace, container=container, previous=previous, since=seconds)
            lines = iter(text.splitlines())
        if target == "culler":
            lines = keep(lines, culler_line, None)
    except BaseException:
        kube.close()
        raise
    return Log(where, lines, kube.close)


def _pod(kube: KubeClient, loaded: Loaded, target: str, conversation: str | None) -> tuple[str, str]:
    """The pod (the newest, if a rollout left two) and container holding the target's log."""
    namespace, release = loaded.config.kubernetes.namespace, loaded.config.hub.release
    if target in COMPONENTS:
        component = "hub" if target == "culler" else target
        labels, what = f"component={component},release={release}", f"{component} pod of release {release}"
        container = CONTAINERS[target]
    else:
        labels = f"hub.jupyter.org/username={escape(target)}"
        if conversation:
            labels += f",hub.jupyter.org/servername={escape(conversation)}"
        what, container = f"pod of {target}" + (f"/{conversation}" if conversation else ""), USER_CONTAINER
    pods = list(kube.list_objects("Pod", namespace, labels=labels))
    if not pods:
        hint = ("`jhubctl diagnose --only cluster` says why" if target in COMPONENTS
                else f"`jhubctl start-server {target} {conversation or '<conversation>'}` starts one")
        raise NotFoundError(f"no {what} in namespace {namespace}", hint=hint)
    if target not in COMPONENTS and not conversation and len(pods) > 1:
        names = sorted(_server(p) for p in pods)
        raise UsageError(f"{target} runs {len(pods)} conversations ({', '.join(names)}): name one",
                         hint=f"jhubctl logs {target} {names[0]}")
    newest = max(pods, key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
    return str(newest["metadata"]["name"]), container


def _server(pod: dict[str, Any]) -> str:
    return str((pod["metadata"].get("annotations") or {}).get("hub.jupyter.org/servername") or "(default)")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration(text: str) -> float:
    """A Go duration as kubectl takes it (``30s``, ``5m``, ``1h30m``) in seconds; a UsageError otherwise."""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"{text!r} is not a duration such as 30s, 5m or 1h30m")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    seconds = sum(float(n) * scale[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"{text!r} is not a duration > 0")
    return seconds
