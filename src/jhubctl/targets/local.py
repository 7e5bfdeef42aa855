"""The local target: a real JupyterHub on this machine, configured like the cluster's, then a smoke test.

Whatever a crashed hub left running (proxy, culler, servers, kernels) is this target's to find and end:
`status` lists it, `down` stops it, `up` ends it before it starts a new hub.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import DownResult, Health, Target, UpResult, interpreter_lock

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

        facts: dict[str, object] = self._servers(out)
        venv = facts.pop("_venv", None)
        with out.progress("starting the local hub"):
            done = HubProcess(self.loaded).start()
        hub = done.hub
        if done.ended:
            out.warn(f"ended {describe(done.ended)} left by a local hub that had died")
        if done.started and venv is not None:
            from ..packages.venv import prune

            for old in prune(self.loaded.state_dir, venv):  # no server of the old hub survives it
                out.debug(f"removed the venv of an older lock: {old}")
        if done.started:
            out.success(f"local hub running at {hub.url} (pid {hub.pid})")
        else:
            out.info(f"local hub already running at {hub.url} (pid {hub.pid}); nothing to do")
        facts |= {
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

    def _servers(self, out: Output) -> dict[str, object]:
        """What the servers will run in and under: the lock and its venv (built if missing), the fence."""
        import os

        from ..packages.uv import find_uv
        from ..packages.venv import ensure_venv

        config = self.loaded.config
        facts: dict[str, object] = {}
        fence, refusal = self._fence()
        if refusal is not None:  # refused before anything is built, rather than as a failed spawn later
            raise UsageError(refusal, hint="use a state directory (--state-dir) and local.data_dir outside it, "
                                           "or set local.fence: false")
        if config.local.interpreter == "locked":
            uv_bin = find_uv(config.interpreter.uv_path)
            lock = interpreter_lock(self.loaded, out, uv_bin=uv_bin)
            public_only = config.local.fence and os.geteuid() == 0
            with out.progress(f"server venv for lock {lock.key}") as bar:
                venv, built = ensure_venv(self.loaded.state_dir, lock, uv_bin=uv_bin, public_only=public_only,
                                          on_line=lambda line: bar.update(None, line))
            (out.success if built else out.debug)(f"server venv {venv.path}")
            facts |= {"lock": lock.summary(), "venv": str(venv.path), "_venv": venv}
        if fence.startswith("on"):
            out.info(f"fence {fence}")
        else:
            out.warn(f"fence {fence}: servers can read the state directory (secrets.json) and other conversations")
        if config.servers.cpu_limit:
            out.warn("servers.cpu_limit is not enforced on the local target (it applies to cluster pods)")
        return facts | {"fence": fence}

    def _veil(self) -> tuple[list[str], str | None]:
        """As root the fence runs each server as a user of its own, who must be able to walk to its folder
        and its Python. The folders on the way that it cannot search are veiled (each server sees only its
        own paths in them, in a mount namespace of its own); the second value says why not, where this
        machine cannot veil them."""
        import os
        import sys

        if not self.loaded.config.local.fence or os.geteuid() != 0:
            return [], None
        from ..local.process import HubProcess
        from ..spawner.fence import FENCE_GID, outermost, veil_problem
        from ..spawner.local import blocking, unreachable

        state = self.loaded.state_dir
        places = [state, HubProcess(self.loaded).data_root]
        if self.loaded.config.local.interpreter == "shared":
            places.append(Path(sys.executable))  # the lock's venv is built on a Python every user can run
        blocked = {}
        for place in places:
            existing = next(p for p in [place, *place.parents] if p.exists())  # the first up makes the rest
            blocked[place] = [b for b in blocking(os.path.join(existing, "_"), FENCE_GID, FENCE_GID)
                              if not Path(b).is_relative_to(state)]  # the hub opens its own folders for them
        veil = outermost(b for folders in blocked.values() for b in folders)
        problem = veil_problem() if veil else None
        if problem is None:
            return veil, None
        place = next(place for place, folders in blocked.items() if folders)
        return veil, f"local.fence: a server's user {unreachable(place, blocked[place], problem)}"

    def _fence(self) -> tuple[str, str | None]:
        """The fence line of `up` and `status`, and why no server could start, if so."""
        from ..spawner.fence import state

        if not self.loaded.config.local.fence:
            return "off (local.fence: false)", None
        veil, refusal = self._veil()
        if refusal is not None:
            return f"on, and no server can start: {refusal}", refusal
        return state(veil).describe(), None

    def interpreter(self) -> dict[str, Any]:
        from ..packages.venv import current_venv

        config = self.loaded.config
        report = super().interpreter() if config.local.interpreter == "locked" else {"lock": None}
        venv = current_venv(self.loaded.state_dir) if config.local.interpreter == "locked" else None
        return report | {
            "mode": config.local.interpreter,
            "venv": str(venv.path) if venv is not None else None,
            "fence": self._fence()[0],
        }

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
