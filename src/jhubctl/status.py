"""What `status` reports: the journal plus a live health check, so a stale journal is visible as such."""

from __future__ import annotations

from typing import Any

from .config import Loaded
from .state import Journal, StateLock
from .targets import target_for


def collect(loaded: Loaded) -> dict[str, Any]:
    steps = {name: vars(step) for name, step in Journal(loaded.state_dir).steps().items()}
    if not StateLock.held(loaded.state_dir):
        for step in steps.values():
            if step["status"] == "running":  # its process died (Ctrl-C, kill, reboot): re-run to resume
                step["status"] = "interrupted"
    target = target_for(loaded)
    return {
        "target": loaded.config.target,
        "state_dir": str(loaded.state_dir),
        "steps": steps,
        "hub": target.health().as_dict(),
        "interpreter": target.interpreter(),
    }
