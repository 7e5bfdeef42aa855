"""Which hub to talk to and with which token: the target says where its hub is, the state dir holds the token."""

from __future__ import annotations

from ..config_file import Loaded
from ..errors import NotFoundError
from ..state import Secrets
from ..targets import target_for
from .client import HubClient


def connect(loaded: Loaded) -> HubClient:
    token = Secrets(loaded.state_dir, loaded.environ).api_token(create=False)
    if not token:
        raise NotFoundError(
            f"no API token in {loaded.state_dir} and JHUBCTL_API_TOKEN is not set",
            hint="`jhubctl up` creates one; for an existing hub export JHUBCTL_API_TOKEN",
        )
    return HubClient(target_for(loaded).hub_url(), token)
