"""Which hub to talk to and with which token, from the config and the journal."""

from __future__ import annotations

from ..config import Loaded
from ..errors import NotFoundError
from ..state import Journal, Secrets
from .client import HubClient


def hub_url(loaded: Loaded) -> str:
    """hub.url wins (an existing hub, CI); else what `up` (local) or `deploy-hub` recorded."""
    if loaded.config.hub.url:
        return loaded.config.hub.url
    step_name = "local-hub" if loaded.config.target == "local" else "deploy-hub"
    step = Journal(loaded.state_dir).get(step_name)
    if step is None or step.status != "succeeded" or not step.outputs.get("url"):
        command = "jhubctl up" if loaded.config.target == "local" else "jhubctl deploy-hub"
        raise NotFoundError(
            f"no hub is recorded in {loaded.state_dir} (target {loaded.config.target})",
            hint=f"run `{command}`, or set hub.url / JHUBCTL_HUB_URL to an existing hub",
        )
    return str(step.outputs["url"])


def connect(loaded: Loaded) -> HubClient:
    token = Secrets(loaded.state_dir).api_token(create=False)
    if not token:
        raise NotFoundError(
            f"no API token in {loaded.state_dir} and JHUBCTL_API_TOKEN is not set",
            hint="`jhubctl up` creates one; for an existing hub export JHUBCTL_API_TOKEN",
        )
    return HubClient(hub_url(loaded), token)
