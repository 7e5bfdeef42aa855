"""Fault injection for the fake ARM.

Three knobs, because jhubctl has to survive three different kinds of trouble:

* a *rate* of transient 429/500 answers on any request (ARM throttling and flaky front doors),
  drawn from a seeded RNG so a failing run can be replayed;
* scripted answers for matching requests (``inject``), optionally *after* the request took
  effect — the "write happened but the answer was lost" case that tests idempotency;
* failing the long-running operation of one resource (``fail_lro``), as when AKS or a
  storage account ends ``Failed``.

Every injected answer is recorded in :attr:`Faults.injected`; :attr:`Faults.hook` lets a test
watch (or answer) every request itself. The machinery is :mod:`tests.fakes.base.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import faults as base
from ..base.faults import InjectedFault, Scripted
from .common import ArmError

__all__ = ["FaultResponse", "Faults", "InjectedFault"]

_DEFAULT_MESSAGES = {
    429: (
        "SubscriptionRequestsThrottled",
        "Number of requests for subscription actually exceeded the limit. Please try again after '1' seconds.",
    ),
    500: ("InternalServerError", "Encountered internal server error. Diagnostic information: fake-arm."),
    502: ("BadGateway", "The gateway did not receive a response within the specified time period."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
}


class FaultResponse(base.FaultResponse):
    """An answer to send instead of (or, with ``after``, in place of) the real one."""

    def to_error(self, default_retry_after: str) -> ArmError:
        return ArmError(self.status, self.code, self.message, headers=self.retry_headers(default_retry_after))


@dataclass
class _LroFailure:
    resource_id: str
    code: str
    message: str
    kind: str | None
    times: int


class Faults(base.Faults):
    """Fault configuration of one :class:`~tests.fakes.arm.server.FakeArm`. Thread-safe.

    :attr:`hook` is called with every :class:`RequestRecord`; it may return a :class:`FaultResponse`.
    """

    rate_messages = _DEFAULT_MESSAGES
    rate_fallback = ("InjectedFault", "Injected fault.")
    response_class = FaultResponse

    def __post_init__(self) -> None:
        super().__post_init__()
        self._lro: list[_LroFailure] = []

    # -- configuration -------------------------------------------------------------------------
    def inject(
        self,
        status: int,
        code: str,
        message: str = "Injected by the fake ARM.",
        *,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
        after: bool = False,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with this error.

        With ``after=True`` the request is processed first and only its answer is replaced
        (the write happened; the client does not know).
        """
        self._script(Scripted(FaultResponse(status, code, message, retry_after), method, path_contains, times, after))

    def fail_lro(
        self,
        resource_id: str,
        code: str = "InternalServerError",
        message: str = "The operation failed (injected by the fake ARM).",
        *,
        kind: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next long-running operation on ``resource_id`` end ``Failed`` with this error.

        ``kind`` restricts it to ``"create"``, ``"update"`` or ``"delete"``.
        """
        with self._lock:
            self._lro.append(_LroFailure(resource_id.lower().rstrip("/"), code, message, kind, times))

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self._lro.clear()

    # -- used by the LRO engine ----------------------------------------------------------------
    def take_lro_failure(self, resource_id: str, kind: str) -> dict[str, str] | None:
        with self._lock:
            key = resource_id.lower().rstrip("/")
            for item in self._lro:
                if item.times > 0 and item.resource_id == key and item.kind in (None, kind):
                    item.times -= 1
                    return {"code": item.code, "message": item.message}
            return None
