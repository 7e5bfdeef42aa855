"""The config as `config show` prints it: effective values, where they came from, no secret values."""

from __future__ import annotations

from typing import Any

from .config import ENV_OVERRIDES, Loaded
from .state import Secrets


def effective(loaded: Loaded) -> dict[str, Any]:
    secrets = Secrets(loaded.state_dir, loaded.environ)
    return {
        "source": str(loaded.path) if loaded.path else "built-in defaults",
        "state_dir": str(loaded.state_dir),
        "environment": sorted(var for var in ENV_OVERRIDES if loaded.environ.get(var)),
        "secrets": {"api_token": f"<redacted: {secrets.api_token_source()}>"},
        "config": loaded.config.model_dump(mode="json"),
    }
