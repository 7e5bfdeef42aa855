"""Long-running operations with the polling styles Azure really uses.

Styles (see :class:`LroStyle`):

* ``AZURE_ASYNC`` — 201/200 + ``Azure-AsyncOperation``; the status URL answers 200
  ``{"status": "InProgress"}`` then ``Succeeded``/``Failed`` (with ``error``). ACR, VNet, subnet,
  NSG, security rule and AKS writes. Their deletes answer 202 with both ``Azure-AsyncOperation``
  and ``Location`` (the ACR SDK reads ``Location`` for the final state).
* ``LOCATION`` — 202 + ``Location``; the monitor answers 202 while running, then 200 with the
  resource (create) or an empty 200 (delete). Storage account create, resource group delete.
  Storage has a quirk: a failed create's monitor answers **200** ``{"status": "Failed", ...}``,
  which the SDK deserialises into an empty ``StorageAccount`` instead of raising.

Progress is lazy (no background threads): an operation completes when it has been *observed*
(status poll or GET of its resource) more than ``in_progress_polls`` times **and** its wall-time
``latency`` has elapsed. The first rule makes every SDK poller really see ``InProgress`` even with
zero latency; the second lets a benchmark model scaled-down real durations.

``Retry-After`` on every poll answer is the time the operation still needs, but never below
``retry_after_floor`` (default 0.01 s). It is deliberately not ``0``: azure-core treats
``Retry-After: 0`` as absent and then sleeps its default 30 s between polls. The answer that
*starts* an operation carries a whole number instead (seconds, rounded up), because the generated
network/AKS/storage code parses that header with ``int()`` and a fraction makes it raise.
"""

from __future__ import annotations

import enum
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .common import Reply


class LroStyle(enum.Enum):
    SYNC = "sync"
    AZURE_ASYNC = "azure-async"
    LOCATION = "location"


@dataclass
class LroSettings:
    """Timing of long-running operations.

    ``latency`` maps a resource type (``"Microsoft.ContainerService/managedClusters"``), optionally
    suffixed with ``":create"``, ``":update"`` or ``":delete"``, to the seconds an operation stays
    in progress. Keys are case-insensitive.
    """

    latency: dict[str, float] = field(default_factory=dict)
    default_latency: float = 0.0
    in_progress_polls: int = 1
    retry_after_floor: float = 0.01

    def latency_for(self, rtype: str, kind: str) -> float:
        table = {k.lower(): v for k, v in self.latency.items()}
        key = rtype.lower()
        return table.get(f"{key}:{kind}", table.get(key, self.default_latency))

    def format_retry_after(self, seconds: float, *, whole: bool = False) -> str:
        if whole:
            return str(math.ceil(max(seconds, 0.0)))
        return f"{max(seconds, self.retry_after_floor):.3f}".rstrip("0").rstrip(".")


@dataclass
class Operation:
    id: str
    resource_id: str
    rtype: str
    kind: str  # "create" | "update" | "delete"
    style: LroStyle
    subscription: str
    namespace: str
    location: str
    api_version: str
    started: float
    latency: float
    #: Called once when the operation ends; receives the error object (or None on success).
    finish: Callable[["Operation", dict[str, Any] | None], None]
    planned_error: dict[str, Any] | None = None
    #: Storage-style quirk: a failed Location monitor answers 200 ``{"status": "Failed"}``.
    location_failure_quirk: bool = False
    observations: int = 0
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    ended: float | None = None

    @property
    def done(self) -> bool:
        return self.status != "InProgress"


class LroEngine:
    """Creates, advances and answers for operations. The caller holds the fake's lock."""

    def __init__(self, settings: LroSettings, base_url: Callable[[], str], clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._base_url = base_url
        self._clock = clock
        self._ops: dict[str, Operation] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(
        self,
        *,
        resource_id: str,
        rtype: str,
        kind: str,
        style: LroStyle,
        subscription: str,
        location: str,
        api_version: str,
        finish: Callable[[Operation, dict[str, Any] | None], None],
        planned_error: dict[str, Any] | None = None,
        location_failure_quirk: bool = False,
    ) -> Operation:
        op = Operation(
            id=str(uuid.uuid4()),
            resource_id=resource_id,
            rtype=rtype,
            kind=kind,
            style=style,
            subscription=subscription,
            namespace=rtype.split("/", 1)[0],
            location=(location or "global").replace(" ", "").lower(),
            api_version=api_version,
            started=self._clock(),
            latency=self.settings.latency_for(rtype, kind),
            finish=finish,
            planned_error=planned_error,
            location_failure_quirk=location_failure_quirk,
        )
        self._ops[op.id] = op
        return op

    def get(self, op_id: str) -> Operation | None:
        return self._ops.get(op_id.lower())

    def pending(self) -> list[Operation]:
        return [op for op in self._ops.values() if not op.done]

    def pending_on(self, resource_ids: set[str]) -> list[Operation]:
        """In-progress operations on any of these resource ids (lowercase)."""
        return [op for op in self.pending() if op.resource_id.lower() in resource_ids]

    def observe(self, op: Operation) -> None:
        """Count one look at ``op`` and complete it if it is due."""
        if op.done:
            return
        if op.observations >= self.settings.in_progress_polls and self._elapsed(op) >= op.latency:
            self._complete(op)
        else:
            op.observations += 1

    def observe_resource(self, resource_id: str) -> None:
        key = resource_id.lower()
        for op in self.pending():
            if op.resource_id.lower() == key:
                self.observe(op)

    def settle(self) -> None:
        """Complete every operation that has been watched long enough and whose time is up."""
        for op in self.pending():
            if op.observations >= self.settings.in_progress_polls and self._elapsed(op) >= op.latency:
                self._complete(op)

    def finish_now(self, op: Operation) -> None:
        """Complete an operation immediately (used when a parent delete removes its resource)."""
        if not op.done:
            self._complete(op)

    # -- URLs and answers ------------------------------------------------------------------------
    def _op_url(self, op: Operation, leaf: str) -> str:
        return (
            f"{self._base_url()}/subscriptions/{op.subscription}/providers/{op.namespace}"
            f"/locations/{op.location}/{leaf}/{op.id}?api-version={op.api_version}"
        )

    def status_url(self, op: Operation) -> str:
        return self._op_url(op, "operations")

    def result_url(self, op: Operation) -> str:
        return self._op_url(op, "operationResults")

    def retry_after(self, op: Operation, *, whole: bool = False) -> str:
        remaining = max(0.0, op.latency - self._elapsed(op))
        return self.settings.format_retry_after(remaining, whole=whole)

    def initial_headers(self, op: Operation) -> dict[str, str]:
        """Headers of the answer that starts ``op``."""
        headers = {"Retry-After": self.retry_after(op, whole=True)}
        if op.style is LroStyle.AZURE_ASYNC:
            headers["Azure-AsyncOperation"] = self.status_url(op)
            if op.kind == "delete":
                headers["Location"] = self.result_url(op)
        else:
            headers["Location"] = self.result_url(op)
        return headers

    def status_reply(self, op: Operation) -> Reply:
        """Answer of the ``Azure-AsyncOperation`` status URL (always 200)."""
        self.observe(op)
        body: dict[str, Any] = {"id": self.status_url(op).split("?", 1)[0], "name": op.id, "status": op.status}
        if op.error is not None:
            body["error"] = _public_error(op.error)
        headers = {} if op.done else {"Retry-After": self.retry_after(op)}
        return Reply(200, body, headers)

    def result_reply(self, op: Operation, render: Callable[[], dict[str, Any] | None]) -> Reply:
        """Answer of the ``Location`` monitor: 202 while running, then the outcome."""
        self.observe(op)
        if not op.done:
            return Reply(202, None, {"Location": self.result_url(op), "Retry-After": self.retry_after(op)})
        if op.error is not None:
            body = {"status": "Failed", "error": _public_error(op.error)}
            if op.location_failure_quirk:
                return Reply(200, body)
            return Reply(int(op.error.get("httpStatus", 400)), {"error": _public_error(op.error)})
        if op.kind == "delete":
            return Reply(200, None)
        return Reply(200, render())

    # -- internals -------------------------------------------------------------------------------
    def _elapsed(self, op: Operation) -> float:
        return self._clock() - op.started

    def _complete(self, op: Operation) -> None:
        op.ended = self._clock()
        if op.planned_error is not None:
            op.status, op.error = "Failed", dict(op.planned_error)
        else:
            op.status = "Succeeded"
        op.finish(op, op.error)


def _public_error(err: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in err.items() if k != "httpStatus"}
