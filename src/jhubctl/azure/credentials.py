"""Which Azure credential to use: a token handed in by CI, else DefaultAzureCredential.

`JHUBCTL_AZURE_ACCESS_TOKEN` is for pipelines that already hold a token (and for tests: no login host
is contacted). It is read from the environment only, never from the config or argv.
"""

from __future__ import annotations

import os
import time
from typing import Any

TOKEN_ENV = "JHUBCTL_AZURE_ACCESS_TOKEN"


class StaticTokenCredential:
    """azure-core's TokenCredential and SupportsTokenInfo over a bearer token obtained elsewhere."""

    def __init__(self, token: str, expires_in: int = 3600):
        self._token = token
        self._expires_on = int(time.time()) + expires_in

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, self._expires_on)

    def __repr__(self) -> str:  # never show the token, not even in --debug tracebacks
        return "StaticTokenCredential(<redacted>)"


def credential(environ: os._Environ[str] | dict[str, str] = os.environ) -> Any:
    if token := environ.get(TOKEN_ENV):
        return StaticTokenCredential(token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
