"""The local target: a real JupyterHub on this machine, configured like the cluster's, then a smoke test.

Whatever a crashed hub left running (proxy, culler, servers, kernels) is this target's to find and end:
`status` lists it, `down` stops it, `up` ends it before it starts a new hub.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from . import DownResult, Health, Target, UpResult

if TYPE_CHECKING:
    from ..local.process import Tracked
    from ..output import Output


def describe(procs: list[Tracked]) -> str:
    """`3 processes (proxy, culler, server)`: what a user needs to recognise them in `ps`."""
    roles = Counter(p.role for p in procs)
    kinds = ", ".join(f"{n} {role}s" if n > 1 else role for role, n in roles.items())
    return f"{len(procs)} process{'es' if len(procs) != 1 else ''} ({kinds})"


class LocalTarget(Target):
    name = "local"

    def up(self, out: Output, *, smoke_test: bool = True) -> UpResult:
        from ..local.process import HubProcess
        from ..local.smoke import smoke_test as run_smoke
        from ..state import Secrets

        with out.progress("starting the local hub"):
            done = HubProcess(self.loaded).start()
        hub = done.hub
        if done.ended:
            out.warn(f"ended {describe(done.ended)} left by a local hub that had died")
        if done.started:
            out.success(f"local hub running at {hub.url} (pid {hub.pid})")
        else:
            out.info(f"local hub already running at {hub.url} (pid {hub.pid}); nothing to do")
        facts: dict[str, object] = {
            "pid": hub.pid, "started": done.started, "log": str(hub.log), "data_root": str(hub.data_root),
            "token_source": Secrets(self.loaded.state_dir, self.loaded.environ).api_token_source(),
            "ended": [p.as_dict() for p in done.ended], "notebook": None,
        }
        if smoke_test:
            with out.progress("smoke test: demo/demo-1", total=100) as bar:
                result = run_smoke(self.loaded, hub.url, hub.data_root,
                                   on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
            out.success(f"smoke test: {result.stdout!r} in {result.seconds:.2f} s")
            facts["notebook"] = str(result.notebook_file)
        return UpResult(hub.url, done.started, facts)

    def down(self, out: Output) -> DownResult:
        from ..local.process import HubProcess

        with out.progress("stopping the local hub"):
            done = HubProcess(self.loaded).stop()
        facts = {"ended": [p.as_dict() for p in done.ended]}
        if done.hub is not None:
            extra = f"; also ended {describe(done.ended)} it had left" if done.ended else ""
            return DownResult(done.hub.url, True, f"local hub at {done.hub.url} stopped{extra}", facts)
        if done.ended:
            return DownResult(None, True, f"no local hub was running; ended {describe(done.ended)} a dead hub had left",
                              facts)
        return DownResult(None, False, "no local hub is running; nothing to stop", facts)

    def recorded_url(self) -> str | None:
        from ..local.process import HubProcess

        hub = HubProcess(self.loaded).recorded()
        return hub.url if hub is not None else None

    def health(self) -> Health:
        from ..hubapi.client import probe
        from ..local.process import HubProcess

        if self.loaded.config.hub.url:
            return super().health()
        process = HubProcess(self.loaded)
        procs = process.tracked()
        running, left = process.current(procs), process.leftovers(procs)
        details: dict[str, object] = {"leftovers": [p.as_dict() for p in left]}
        note = f"; {describe(left)} left by a dead hub (`jhubctl down` ends them)" if left else ""
        if running is None:
            return Health("not running" + note, None, None, details)
        version = probe(running.url)
        health = f"running (JupyterHub {version})" if version else "process up, API not answering"
        return Health(health + note, running.url, version, {"pid": running.pid, **details})
