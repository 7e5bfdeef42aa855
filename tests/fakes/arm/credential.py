"""A credential for tests that talk to the fake ARM.

``DefaultAzureCredential`` always contacts the Microsoft login host, so tests need their own
credential. azure-core's bearer policy uses ``get_token_info`` when present (``get_token``
otherwise); this class offers both and returns one static token.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo


class StaticTokenCredential:
    """Hands out ``token`` for any scope and records the scopes asked for."""

    def __init__(self, token: str, lifetime_seconds: int = 3600) -> None:
        self.token = token
        self.lifetime_seconds = lifetime_seconds
        self.scopes_seen: list[tuple[str, ...]] = []

    def _expires_on(self) -> int:
        return int(time.time()) + self.lifetime_seconds

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.scopes_seen.append(scopes)
        return AccessToken(self.token, self._expires_on())

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes_seen.append(scopes)
        return AccessTokenInfo(self.token, self._expires_on())

    def close(self) -> None:
        pass

    def __enter__(self) -> "StaticTokenCredential":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
