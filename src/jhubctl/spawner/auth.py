"""The hub's authenticator: API-only (no browser login), and it refuses a bad user name when the user is made.

JupyterHub 4.0.2 creates a user on ``POST /users/{name}`` before it asks the authenticator, then
answers a refusal with a bare "Failed to create user". Clients would learn nothing, and a name that
only the spawner refused would leave a user behind and fail at the first start with a 500. So the
authenticator also serves that one route (authenticator handlers come before the hub's own) and
checks the name first, answering 400 with the reason; everything else is the hub's own handler.

Lives in the spawner package because the hub image copies that package alone: standard library,
JupyterHub and tornado only.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.apihandlers.users import UserAPIHandler
from jupyterhub.auth import NullAuthenticator
from jupyterhub.scopes import needs_scope
from tornado import web

from .naming import InvalidName, hub_user

__all__ = ["ConversationAuthenticator"]


class CheckedUserAPIHandler(UserAPIHandler):
    """``/hub/api/users/{name}``: the hub's handler, with the name checked before a user is created."""

    @needs_scope("admin:users")
    async def post(self, user_name: str) -> Any:
        try:
            hub_user(user_name)
        except InvalidName as exc:
            raise web.HTTPError(400, str(exc)) from None
        return await super().post(user_name)


class ConversationAuthenticator(NullAuthenticator):
    """`null` (tokens only), with jhubctl's name rules for every user the hub creates or loads."""

    def validate_username(self, username: str) -> bool:
        try:
            hub_user(username)
        except InvalidName as exc:
            self.log.warning("Refusing user name: %s", exc)
            return False
        return bool(super().validate_username(username))

    def get_handlers(self, app: Any) -> list[tuple[str, type]]:
        return [(r"/api/users/([^/]+)", CheckedUserAPIHandler)]
