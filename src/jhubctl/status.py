"""What `status` reports: the journal plus a live health check, so a stale journal is visible as such."""

from __future__ import annotations

from typing import Any

from .config import Loaded
from .state import Journal, StateLock


def collect(loaded: Loaded) -> dict[str, Any]:
    steps = {name: vars(step) for name, step in Journal(loaded.state_dir).steps().items()}
    if not StateLock.held(loaded.state_dir):
        for step in steps.values():
            if step["status"] == "running":  # its process died (Ctrl-C, kill, reboot): re-run to resume
                step["status"] = "interrupted"
    return {
        "target": loaded.config.target,
        "state_dir": str(loaded.state_dir),
        "steps": steps,
        "hub": hub_health(loaded),
    }


def hub_health(loaded: Loaded) -> dict[str, Any]:
    from .errors import NotFoundError
    from .hubapi.connect import hub_url
    from .local.process import HubProcess, healthy

    if loaded.config.target == "local" and not loaded.config.hub.url:
        running = HubProcess(loaded).current()
        if running is None:
            return {"health": "not running", "url": None}
        version = healthy(running.url)
        return {"health": f"running (JupyterHub {version})" if version else "process up, API not answering",
                "url": running.url, "pid": running.pid}
    try:
        url = hub_url(loaded)
    except NotFoundError:
        return {"health": "not deployed", "url": None}
    version = healthy(url)
    return {"health": f"running (JupyterHub {version})" if version else "not answering", "url": url}
