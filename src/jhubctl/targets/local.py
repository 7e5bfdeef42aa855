"""The local target: a real JupyterHub on this machine, configured like the cluster's, then a smoke test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import DownResult, Health, Target, UpResult

if TYPE_CHECKING:
    from ..output import Output
    from ..packages.venv import Venv


class LocalTarget(Target):
    name = "local"

    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        from ..local.process import HubProcess
        from ..local.smoke import smoke_test as run_smoke
        from ..state import Secrets

        facts: dict[str, object] = self._servers(out)
        venv = facts.pop("_venv", None)
        with out.progress("starting the local hub"):
            hub, started = HubProcess(self.loaded).start()
        if started and venv is not None:
            from ..packages.venv import prune

            for old in prune(self.loaded.state_dir, venv):  # no server of the old hub survives it
                out.debug(f"removed the venv of an older lock: {old}")
        if started:
            out.success(f"local hub running at {hub.url} (pid {hub.pid})")
        else:
            out.info(f"local hub already running at {hub.url} (pid {hub.pid}); nothing to do")
        facts |= {
            "pid": hub.pid, "started": started, "log": str(hub.log), "data_root": str(hub.data_root),
            "token_source": Secrets(self.loaded.state_dir, self.loaded.environ).api_token_source(),
        }
        if smoke_test:
            with out.progress("smoke test: demo/demo-1", total=100) as bar:
                result = run_smoke(self.loaded, hub.url, hub.data_root,
                                   on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
            out.success(f"smoke test: {result.stdout!r} in {result.seconds:.2f} s")
            facts["notebook"] = str(result.notebook_file)
        return UpResult(hub.url, started, facts)

    def _servers(self, out: Output) -> dict[str, object]:
        """What the servers will run in and under: the lock and its venv (built if missing), the fence."""
        import os

        from ..packages import ensure_lock
        from ..packages.uv import find_uv
        from ..packages.venv import ensure_venv

        config = self.loaded.config
        facts: dict[str, object] = {}
        if config.local.interpreter == "locked":
            uv_bin = find_uv(config.interpreter.uv_path)
            with out.progress("resolving the interpreter lock"):
                lock, resolved = ensure_lock(self.loaded, uv_bin)
            (out.success if resolved else out.debug)(
                f"interpreter lock {lock.path} ({len(lock.pins())} packages, sha256 {lock.sha256[:12]})")
            public_only = config.local.fence and os.geteuid() == 0
            with out.progress(f"server venv for lock {lock.key}") as bar:
                venv, built = ensure_venv(self.loaded.state_dir, lock, uv_bin=uv_bin, public_only=public_only,
                                          on_line=lambda line: bar.update(None, line))
            (out.success if built else out.debug)(f"server venv {venv.path}")
            facts |= {"lock": lock.summary(), "venv": str(venv.path), "_venv": venv}
        fence = self._fence()
        if not fence.startswith("on"):
            out.warn(f"fence {fence}: servers can read the state directory (secrets.json) and other conversations")
        if config.servers.cpu_limit:
            out.warn("servers.cpu_limit is not enforced on the local target (it applies to cluster pods)")
        return facts | {"fence": fence}

    def _fence(self) -> str:
        from ..spawner.fence import state

        if not self.loaded.config.local.fence:
            return "off (local.fence: false)"
        return state().describe()

    def interpreter(self) -> dict[str, Any]:
        from ..packages.venv import current_venv

        config = self.loaded.config
        report = super().interpreter() if config.local.interpreter == "locked" else {"lock": None}
        venv = current_venv(self.loaded.state_dir) if config.local.interpreter == "locked" else None
        return report | {
            "mode": config.local.interpreter,
            "venv": str(venv.path) if venv is not None else None,
            "fence": self._fence(),
        }

    def down(self, out: Output) -> DownResult:
        from ..local.process import HubProcess

        with out.progress("stopping the local hub"):
            hub = HubProcess(self.loaded).stop()
        return DownResult(hub.url, True, f"local hub at {hub.url} stopped")

    def recorded_url(self) -> str | None:
        from ..local.process import HubProcess

        hub = HubProcess(self.loaded).recorded()
        return hub.url if hub is not None else None

    def health(self) -> Health:
        from ..hubapi.client import probe
        from ..local.process import HubProcess

        if self.loaded.config.hub.url:
            return super().health()
        running = HubProcess(self.loaded).current()
        if running is None:
            return Health("not running")
        version = probe(running.url)
        return Health(f"running (JupyterHub {version})" if version else "process up, API not answering",
                      running.url, version, {"pid": running.pid})
