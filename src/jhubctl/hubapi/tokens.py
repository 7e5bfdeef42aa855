"""Per-user tokens: what an assistant serving one user holds instead of the service token.

The service mints them through the hub (`POST /users/{name}/tokens`, its `tokens` scope). JupyterHub
checks the requested scopes against what the *user* holds, so a per-user token can reach that user's
servers and nothing else; its scopes are `services.USER_TOKEN_SCOPES` (docs/security.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..services import USER_TOKEN_SCOPES
from ..spawner.naming import InvalidName, normalize_user
from .client import HubClient, Token

if TYPE_CHECKING:
    from ..config import Loaded

#: Longest lifetime `jhubctl token --user` grants: a per-user token is meant to be short-lived.
MAX_EXPIRES_IN = 30 * 86400


def mint_user_token(hub: HubClient, user: str, expires_in: int, note: str = "jhubctl token --user") -> Token:
    """Create the user if missing, then mint a token limited to that user's servers for `expires_in` seconds."""
    try:
        user = normalize_user(user)
    except InvalidName as exc:
        raise UsageError(str(exc)) from None
    if not 60 <= expires_in <= MAX_EXPIRES_IN:
        raise UsageError(
            f"--expires-in {expires_in}: must be between 60 and {MAX_EXPIRES_IN} seconds (30 days)",
            hint="per-user tokens are short-lived; mint a new one when it runs out",
        )
    hub.ensure_user(user)
    return hub.new_token(user, scopes=list(USER_TOKEN_SCOPES), expires_in=expires_in, note=note)


@dataclass
class UserToken:
    """A per-user token that renews itself from `mint` shortly before it runs out.

    `mint` is None for a token handed in from outside (JHUBCTL_USER_TOKEN): it is used as is, and the
    process never sees the service token.
    """

    token: str
    expires_in: int
    mint: Callable[[], Token] | None = None
    minted_at: float = 0.0

    @classmethod
    def minted(cls, mint: Callable[[], Token], expires_in: int) -> UserToken:
        return cls(mint().token, expires_in, mint, time.monotonic())

    def stale(self, margin: float = 300.0) -> bool:
        if self.mint is None:
            return False
        return time.monotonic() - self.minted_at > self.expires_in - min(margin, self.expires_in / 2)

    def renew(self) -> None:
        assert self.mint is not None
        self.token, self.minted_at = self.mint().token, time.monotonic()


#: A per-user token handed in from outside: then the service token is never read.
USER_TOKEN_ENV = "JHUBCTL_USER_TOKEN"


def user_token(loaded: Loaded, user: str, expires_in: int) -> tuple[str, UserToken]:
    """The hub URL and a token limited to `user`: JHUBCTL_USER_TOKEN if set (checked to be that user's), else
    one minted now with the service token, which is then dropped (renewals read it again)."""
    from ..targets import target_for
    from .connect import connect

    given = loaded.environ.get(USER_TOKEN_ENV)
    if given:
        url = target_for(loaded).hub_url()
        with HubClient(url, given) as hub:
            owner = hub.whoami()
        if owner.get("kind") != "user" or owner.get("name") != user:
            raise UsageError(
                f"{USER_TOKEN_ENV} belongs to {owner.get('kind')} {owner.get('name')!r}, not to the user {user!r}",
                hint=f"mint one with `jhubctl token --user {user}`",
            )
        return url, UserToken(given, expires_in)

    def mint() -> Token:
        with connect(loaded) as hub:
            return mint_user_token(hub, user, expires_in, note="jhubctl mcp")

    with connect(loaded) as hub:
        url = hub.url
    return url, UserToken.minted(mint, expires_in)
