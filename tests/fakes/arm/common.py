"""Small value types shared by the fake ARM modules.

Kept apart so that the server, the store, the LRO engine and the fault injector can all
speak about requests, replies and ARM errors without importing each other.
"""

from __future__ import annotations

import re
from typing import Any

from ..base.log import RequestRecord as BaseRecord
from ..base.server import Reply

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)

#: POST actions that only read. They are excluded from ``FakeArm.writes()`` because a re-run of
#: ``provision`` that changes nothing still fetches credentials.
READ_ONLY_ACTIONS = frozenset(
    {"listclusterusercredential", "listclusteradmincredential", "listkeys", "listcredentials"}
)


def is_guid(value: object) -> bool:
    return isinstance(value, str) and bool(GUID_RE.match(value))


class ArmError(Exception):
    """An ARM error answer: ``{"error": {"code", "message", ...}}`` with an HTTP status.

    azure-core's ``HttpResponseError`` reads ``error.code``/``error.message`` from exactly this
    shape, so tests can assert on ``exc.error.code`` as they would against Azure.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.headers = headers or {}

    def error_object(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            err["target"] = self.target
        if self.details is not None:
            err["details"] = self.details
        return err

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.error_object()}, dict(self.headers))


class RequestRecord(BaseRecord):
    """One request as the fake saw it (Authorization header removed); ``response`` is the :class:`Reply`."""

    @property
    def action(self) -> str | None:
        """Last path segment, lowercased, for POSTs (``listkeys``, ``register`` ...)."""
        if self.method != "POST":
            return None
        return self.path.rstrip("/").rsplit("/", 1)[-1].lower()

    @property
    def is_write(self) -> bool:
        if self.method in ("PUT", "PATCH", "DELETE"):
            return True
        return self.method == "POST" and self.action not in READ_ONLY_ACTIONS
