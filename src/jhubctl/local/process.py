"""Start, find and stop the local hub and every process it starts, from the state dir alone.

The hub runs in its own session (Ctrl-C on jhubctl does not reach it); its pid, ports and log are
recorded in the journal step `local-hub`. But the hub starts its proxy, culler, user servers and their
kernels each in a session of its own, and a hub killed with SIGKILL leaves them all running, re-parented
to init. So each of them carries a marker in its environment, `JHUBCTL_LOCAL_HUB=<state>/local`, which
children inherit: `tracked()` finds them by that marker (or, for the hub, by its config file on the
command line), whoever their parent is now. A pid is signalled only after its start time is checked
again, so a recycled pid is never hit.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config_file import Loaded
from ..errors import JhubctlError
from ..hubapi.client import probe
from ..state import Journal, Secrets, ensure_private_dir, write_private

if TYPE_CHECKING:
    from ..config import Config

STEP = "local-hub"
#: Seconds the hub gets to stop its servers and proxy on SIGTERM, and everything else before SIGKILL.
HUB_GRACE = 30.0
#: How long a stopped hub's kernels get to notice and exit on their own.
SETTLE = 3.0
GRACE = 5.0


@dataclass(frozen=True)
class LocalHub:
    url: str
    pid: int
    log: Path
    config_file: Path
    data_root: Path

    def outputs(self) -> dict[str, object]:
        return {"url": self.url, "pid": self.pid, "log": str(self.log), "config": str(self.config_file),
                "data_root": str(self.data_root)}


@dataclass(frozen=True)
class Tracked:
    """A process of this state dir's hub: its pid, what it is, and when it started (to re-check the pid)."""

    pid: int
    ppid: int
    role: str  # hub | proxy | culler | server | kernel | other
    command: str
    started: str

    def as_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "role": self.role, "command": self.command}


@dataclass(frozen=True)
class Started:
    """What `start` did: the hub, whether it started it now, and the leftovers of a dead hub it ended first."""

    hub: LocalHub
    started: bool
    ended: list[Tracked]


@dataclass(frozen=True)
class Stopped:
    """What `stop` did: the hub it stopped (if one ran) and every other process it had to end itself."""

    hub: LocalHub | None
    ended: list[Tracked]


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports free now. All are held open together, so no two picks are the same port."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


PORT_ATTEMPTS = 3
"""A picked port can be taken (by any outgoing connection) before the hub binds it: pick again this often."""


class PortTaken(JhubctlError):
    """The hub could not bind a port: chosen ports are picked again, a configured one is the user's to fix."""


def proxy_command(configured: str | None) -> list[str]:
    """`local.proxy_command` if set, else jhubctl's patch of the PyPI proxy (see local/proxy.py)."""
    return [configured] if configured else [sys.executable, "-m", "jhubctl.local.proxy"]


def _role(argv: list[str], config_file: Path) -> str:
    line = " ".join(argv)
    for needle, role in ((str(config_file), "hub"), ("configurable-http-proxy", "proxy"),
                         ("jhubctl.local.proxy", "proxy"), ("jupyterhub_idle_culler", "culler"),
                         ("jupyterhub.singleuser", "server"), ("jupyterhub-singleuser", "server"),
                         ("ipykernel", "kernel")):
        if needle in line:
            return role
    return "other"


def _proc_table() -> Iterator[tuple[int, int, str, list[str], set[str]]]:
    """(pid, ppid, start time, argv, environment entries) of every process we may read, from /proc."""
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            environ = Path(entry.path, "environ").read_bytes()
            argv = Path(entry.path, "cmdline").read_bytes()
        except OSError:  # gone, or another user's
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
        if fields[0] == "Z":
            continue  # a zombie has exited; only its parent's wait is missing
        yield (int(entry.name), int(fields[1]), fields[19],
               [a.decode(errors="replace") for a in argv.split(b"\0") if a],
               {e.decode(errors="replace") for e in environ.split(b"\0") if e})


def _ps_table() -> Iterator[tuple[int, int, str, list[str], set[str]]]:
    """The same from `ps` where there is no /proc (macOS): BSD `e` appends the environment to the command."""
    done = subprocess.run(["ps", "axwwe", "-o", "pid=,ppid=,lstart=,command="], capture_output=True, text=True,
                          check=False)
    me = os.getpid()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) < 8 or not parts[0].isdigit() or int(parts[0]) == me:
            continue
        words = parts[7:]
        yield int(parts[0]), int(parts[1]), " ".join(parts[2:7]), words, {w for w in words if "=" in w}


def _start_time(pid: int) -> str | None:
    """When `pid` started (None if it runs no more): with the pid, what identifies a process."""
    if os.path.isdir("/proc"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2:].split()
        return None if fields[0] == "Z" else fields[19]
    done = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return " ".join(done.stdout.split()) or None


def tracked(workdir: Path, config_file: Path) -> list[Tracked]:
    """Every live process of the hub that works in `workdir`: the hub itself and whatever carries its marker."""
    from .hubconfig import MARKER_ENV  # hubconfig needs the config's models: not on the server commands' path

    marker = f"{MARKER_ENV}={workdir}"
    table = _proc_table() if os.path.isdir("/proc") else _ps_table()
    return [
        Tracked(pid, ppid, _role(argv, config_file), " ".join(argv)[:200], started)
        for pid, ppid, started, argv, environ in table
        if marker in environ or str(config_file) in argv
    ]


def descendants(procs: list[Tracked], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc.pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(proc: Tracked) -> bool:
    return _start_time(proc.pid) == proc.started


def _signal(proc: Tracked, sig: int) -> None:
    if _alive(proc):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass


def _wait(until: float, alive: Callable[[], bool]) -> bool:
    """Wait until `alive()` is false (a zombie counts as ended); True if it ended in time."""
    while time.monotonic() < until:
        if not alive():
            return True
        time.sleep(0.05)
    return False


def end(procs: list[Tracked], grace: float = GRACE) -> None:
    """SIGTERM all, then SIGKILL whatever still runs after `grace` seconds (each pid re-checked first)."""
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        if not _wait(deadline, lambda p=proc: _alive(p)):
            _signal(proc, signal.SIGKILL)


class HubProcess:
    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.workdir = (loaded.state_dir / "local").absolute()
        self.config_file = self.workdir / "jupyterhub_config.py"
        self.journal = Journal(loaded.state_dir)
        self.secrets = Secrets(loaded.state_dir, loaded.environ)

    @property
    def config(self) -> Config:
        """The model, validated on first use: finding the recorded hub (the server commands) needs none of it."""
        return self.loaded.config

    @property
    def data_root(self) -> Path:
        return (self.config.local.data_dir or self.workdir / "data").absolute()

    def recorded(self) -> LocalHub | None:
        """The hub the journal says `up` started (it may have died since)."""
        record = self.journal.get(STEP)
        if record is None or record.status != "succeeded":
            return None
        out = record.outputs
        return LocalHub(out["url"], int(out["pid"]), Path(out["log"]), Path(out["config"]), Path(out["data_root"]))

    def tracked(self) -> list[Tracked]:
        return tracked(self.workdir, self.config_file)

    def current(self, procs: list[Tracked] | None = None) -> LocalHub | None:
        """The recorded hub if it still runs (never trusts a pid that runs something else)."""
        hub = self.recorded()
        procs = self.tracked() if procs is None else procs
        if hub is None or not any(p.pid == hub.pid and p.role == "hub" for p in procs):
            return None
        return hub

    def leftovers(self, procs: list[Tracked] | None = None) -> list[Tracked]:
        """This state dir's processes that no running hub owns: what a killed hub left behind."""
        procs = self.tracked() if procs is None else procs
        hub = self.current(procs)
        owned = {hub.pid, *descendants(procs, hub.pid)} if hub is not None else set()
        return [p for p in procs if p.pid not in owned]

    def start(self) -> Started:
        """Start the hub unless it runs and answers. What a dead hub left is ended first."""
        procs = self.tracked()
        running = self.current(procs)
        if running is not None and probe(running.url):
            left = self.leftovers(procs)
            end(left)
            return Started(running, False, left)
        end(procs)  # a hub that runs but does not answer, and whatever a dead one left
        left = [p for p in procs if running is None or p.pid != running.pid]
        ensure_private_dir(self.workdir)
        ensure_private_dir(self.data_root)
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                return Started(self._launch(), True, left)
            except PortTaken:
                continue
        return Started(self._launch(), True, left)

    def _launch(self) -> LocalHub:
        from .hubconfig import MARKER_ENV, SERVICE_TOKEN_ENV, Ports, render

        host = self.config.local.host
        public, hub_port, api = free_ports(3, host)
        ports = Ports(self.config.local.port or public, hub_port, api)
        write_private(
            self.config_file,
            render(self.config, ports=ports, workdir=self.workdir, data_root=self.data_root,
                   proxy_command=proxy_command(self.config.local.proxy_command)),
        )
        log = self.workdir / "jupyterhub.log"
        env = dict(os.environ)
        env[SERVICE_TOKEN_ENV] = self.secrets.api_token()  # type: ignore[assignment]
        env["CONFIGPROXY_AUTH_TOKEN"] = secrets.token_hex(32)
        env[MARKER_ENV] = str(self.workdir)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.pop("JHUBCTL_API_TOKEN", None)  # the hub gets it under its own name only
        url = f"http://{host}:{ports.public}"
        with self.journal.step(STEP, self.config.digest("local", "hub", "servers")) as outputs:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "ab") as log_fh:
                os.fchmod(fd, 0o600)
                offset = log_fh.tell()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "jupyterhub", "-f", str(self.config_file)],
                    cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh,
                    start_new_session=True, umask=0o077,  # every file the hub and its children write: owner-only
                )
            hub = LocalHub(url, proc.pid, log, self.config_file, self.data_root)
            outputs.update(hub.outputs())
            self._wait_probe(proc, hub, offset)
        return hub

    def _wait_probe(self, proc: subprocess.Popen[bytes], hub: LocalHub, offset: int) -> None:
        deadline = time.monotonic() + self.config.local.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                end(self.tracked())
                message = f"the local hub exited with code {proc.returncode} while starting:\n{tail(hub.log)}"
                if "Address already in use" in _since(hub.log, offset):
                    raise PortTaken(message, hint=(
                        f"local.port {self.config.local.port} is in use: free it or choose another"
                        if self.config.local.port else f"another process took a port; full log: {hub.log}"))
                raise JhubctlError(message, hint=f"full log: {hub.log}")
            if probe(hub.url, timeout=1.0):
                return
            time.sleep(0.1)
        end(self.tracked(), HUB_GRACE)
        raise JhubctlError(
            f"the local hub did not answer within {self.config.local.start_timeout:g} s:\n{tail(hub.log)}",
            hint=f"raise local.start_timeout; full log: {hub.log}",
        )

    def stop(self) -> Stopped:
        """Stop the hub (SIGTERM: it stops its servers and proxy itself), then end whatever is left."""
        procs = self.tracked()
        hub = self.current(procs)
        if hub is not None:
            [me] = [p for p in procs if p.pid == hub.pid]
            _signal(me, signal.SIGTERM)
            if not _wait(time.monotonic() + HUB_GRACE, lambda: _alive(me)):
                _signal(me, signal.SIGKILL)
            # The hub returns once its servers stopped; their kernels follow within a second or two
            # (ipykernel polls its parent). Only what outlives that is reported as left behind.
            owned = descendants(procs, hub.pid)
            children = [p for p in procs if p.pid in owned]
            _wait(time.monotonic() + SETTLE, lambda: any(_alive(p) for p in children))
        left = [p for p in self.tracked() if hub is None or p.pid != hub.pid]
        end(left)
        step = self.journal.get(STEP)
        if step is not None and step.status != "stopped":
            step.status = "stopped"
            step.outputs = {k: v for k, v in step.outputs.items() if k != "pid"}
            self.journal.record(STEP, step)
        return Stopped(hub, left)


def _since(path: Path, offset: int) -> str:
    """What this start wrote to the log (the log is appended to across starts)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
