"""The local target: a real JupyterHub on this machine, configured like the cluster's, then a smoke test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import DownResult, Health, Target, UpResult

if TYPE_CHECKING:
    from ..output import Output


class LocalTarget(Target):
    name = "local"

    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        from ..local.process import HubProcess
        from ..local.smoke import smoke_test as run_smoke
        from ..state import Secrets

        with out.progress("starting the local hub"):
            hub, started = HubProcess(self.loaded).start()
        if started:
            out.success(f"local hub running at {hub.url} (pid {hub.pid})")
        else:
            out.info(f"local hub already running at {hub.url} (pid {hub.pid}); nothing to do")
        facts: dict[str, object] = {
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
