"""Start, find and stop the local hub as a managed background process.

The hub runs in its own session (Ctrl-C on jhubctl does not reach it) and its pid, ports and log are
recorded in the journal step `local-hub`. A recorded pid is trusted only if that process still runs
our config file, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Loaded
from ..errors import JhubctlError, NotFoundError
from ..hubapi.client import probe
from ..state import Journal, Secrets, ensure_private_dir, write_private
from .hubconfig import SERVICE_TOKEN_ENV, Ports, render

STEP = "local-hub"


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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _is_node_script(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return b"node" in fh.readline()
    except OSError:
        return False


def proxy_command(configured: str | None) -> list[str]:
    """The node proxy if one is on PATH (the reference implementation), else the Python port from PyPI."""
    if configured:
        return [configured]
    candidates = [
        os.path.join(d, "configurable-http-proxy") for d in os.environ.get("PATH", "").split(os.pathsep) if d
    ]
    found = [c for c in candidates if os.access(c, os.X_OK)]
    for path in found:
        if _is_node_script(path):
            return [path]
    beside = Path(sys.executable).parent / "configurable-http-proxy"
    if found:
        return [found[0]]
    if beside.exists():
        return [str(beside)]
    raise JhubctlError(
        "configurable-http-proxy is not installed",
        hint="pip install 'jhubctl[local]' (or npm install -g configurable-http-proxy)",
    )


def _runs_config(pid: int, config_file: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): the pid exists; accept it
    return str(config_file).encode() in cmdline


class HubProcess:
    def __init__(self, loaded: Loaded):
        self.loaded = loaded
        self.config = loaded.config
        self.workdir = loaded.state_dir / "local"
        self.journal = Journal(loaded.state_dir)
        self.secrets = Secrets(loaded.state_dir, loaded.environ)

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

    def current(self) -> LocalHub | None:
        """The recorded hub if it still runs (never trusts a pid that runs something else)."""
        hub = self.recorded()
        return hub if hub is not None and _runs_config(hub.pid, hub.config_file) else None

    def start(self) -> tuple[LocalHub, bool]:
        """Start the hub unless it runs; (hub, started)."""
        running = self.current()
        if running is not None and probe(running.url):
            return running, False
        if running is not None:
            self._terminate(running.pid)
        ensure_private_dir(self.workdir)
        self.data_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        host = self.config.local.host
        ports = Ports(self.config.local.port or free_port(host), free_port(), free_port())
        config_file = self.workdir / "jupyterhub_config.py"
        write_private(
            config_file,
            render(self.config, ports=ports, workdir=self.workdir, data_root=self.data_root,
                   proxy_command=proxy_command(self.config.local.proxy_command)),
        )
        log = self.workdir / "jupyterhub.log"
        env = dict(os.environ)
        env[SERVICE_TOKEN_ENV] = self.secrets.api_token()  # type: ignore[assignment]
        env["CONFIGPROXY_AUTH_TOKEN"] = secrets.token_hex(32)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.pop("JHUBCTL_API_TOKEN", None)  # the hub gets it under its own name only
        url = f"http://{host}:{ports.public}"
        with self.journal.step(STEP, self.config.digest("local", "hub", "servers")) as outputs:
            with open(log, "ab") as log_fh:
                os.chmod(log, 0o600)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "jupyterhub", "-f", str(config_file)],
                    cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh,
                    start_new_session=True,
                )
            hub = LocalHub(url, proc.pid, log, config_file, self.data_root)
            outputs.update(hub.outputs())
            self._wait_probe(proc, hub)
        return hub, True

    def _wait_probe(self, proc: subprocess.Popen[bytes], hub: LocalHub) -> None:
        deadline = time.monotonic() + self.config.local.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise JhubctlError(
                    f"the local hub exited with code {proc.returncode} while starting:\n{tail(hub.log)}",
                    hint=f"full log: {hub.log}",
                )
            if probe(hub.url, timeout=1.0):
                return
            time.sleep(0.1)
        self._terminate(proc.pid)
        raise JhubctlError(
            f"the local hub did not answer within {self.config.local.start_timeout:g} s:\n{tail(hub.log)}",
            hint=f"raise local.start_timeout; full log: {hub.log}",
        )

    def stop(self) -> LocalHub:
        hub = self.current()
        if hub is None:
            raise NotFoundError("no local hub is running", hint="`jhubctl up` starts one")
        self._terminate(hub.pid)
        step = self.journal.get(STEP)
        if step is not None:
            step.status, step.finished_at = "stopped", None
            step.outputs = {k: v for k, v in step.outputs.items() if k != "pid"} | {"pid": None}
            self.journal.record(STEP, step)
        return hub

    @staticmethod
    def _terminate(pid: int, grace: float = 30.0) -> None:
        """SIGTERM lets the hub stop every user server and its proxy (cleanup_servers); SIGKILL the group after."""
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                waited, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                waited = 0
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            if waited == pid:
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
