"""Fault injection for the fake ARM.

Three knobs, because jhubctl has to survive three different kinds of trouble:

* a *rate* of transient 429/500 answers on any request (ARM throttling and flaky front doors),
  drawn from a seeded RNG so a failing run can be replayed;
* scripted answers for matching requests (``inject``), optionally *after* the request took
  effect — the "write happened but the answer was lost" case that tests idempotency;
* failing the long-running operation of one resource (``fail_lro``), as when AKS or a
  storage account ends ``Failed``.

Every injected answer is recorded in :attr:`Faults.injected`; :attr:`Faults.hook` lets a test
watch (or answer) every request itself.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .common import ArmError, RequestRecord

_DEFAULT_MESSAGES = {
    429: (
        "SubscriptionRequestsThrottled",
        "Number of requests for subscription actually exceeded the limit. Please try again after '1' seconds.",
    ),
    500: ("InternalServerError", "Encountered internal server error. Diagnostic information: fake-arm."),
    502: ("BadGateway", "The gateway did not receive a response within the specified time period."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
}


@dataclass
class FaultResponse:
    """An answer to send instead of (or, with ``after``, in place of) the real one."""

    status: int
    code: str
    message: str
    #: ``Retry-After`` value; ``None`` = use the fake's default for 429/503, omit otherwise.
    retry_after: str | None = None

    def to_error(self, default_retry_after: str) -> ArmError:
        headers = {}
        retry_after = self.retry_after
        if retry_after is None and self.status in (429, 503):
            retry_after = default_retry_after
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return ArmError(self.status, self.code, self.message, headers=headers)


@dataclass
class _Scripted:
    response: FaultResponse
    method: str | None
    path_contains: str | None
    times: int
    after: bool

    def matches(self, rec: RequestRecord, after: bool) -> bool:
        if self.times <= 0 or self.after != after:
            return False
        if self.method and rec.method != self.method.upper():
            return False
        return not self.path_contains or self.path_contains.lower() in rec.path.lower()


@dataclass
class InjectedFault:
    seq: int
    method: str
    path: str
    status: int
    code: str
    source: str  # "rate" | "inject" | "hook"


@dataclass
class _LroFailure:
    resource_id: str
    code: str
    message: str
    kind: str | None
    times: int


@dataclass
class Faults:
    """Fault configuration of one :class:`~tests.fakes.arm.server.FakeArm`. Thread-safe."""

    rate: float = 0.0
    statuses: tuple[int, ...] = (429, 500)
    #: Called with every :class:`RequestRecord` before it is handled; may return a
    #: :class:`FaultResponse` to answer it. Runs under the fault lock: keep it quick.
    hook: Callable[[RequestRecord], FaultResponse | None] | None = None
    injected: list[InjectedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a hook may call count()
        self._rng = random.Random(0)
        self._methods: frozenset[str] | None = None
        self._scripted: list[_Scripted] = []
        self._lro: list[_LroFailure] = []

    # -- configuration -------------------------------------------------------------------------
    def set_rate(
        self,
        rate: float,
        *,
        statuses: Iterable[int] = (429, 500),
        seed: int = 0,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Answer a fraction ``rate`` of requests with one of ``statuses`` (chosen at random).

        Deterministic for a given seed and request order. ``methods`` limits it (e.g. ``["PUT"]``).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        with self._lock:
            self.rate = rate
            self.statuses = tuple(statuses)
            self._rng = random.Random(seed)
            self._methods = frozenset(m.upper() for m in methods) if methods else None

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
        with self._lock:
            self._scripted.append(
                _Scripted(FaultResponse(status, code, message, retry_after), method, path_contains, times, after)
            )

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
            self.rate = 0.0
            self.hook = None
            self._scripted.clear()
            self._lro.clear()

    # -- inspection ----------------------------------------------------------------------------
    def count(self, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for f in self.injected if status is None or f.status == status)

    # -- used by the server / LRO engine -------------------------------------------------------
    def before(self, rec: RequestRecord) -> FaultResponse | None:
        with self._lock:
            if self.hook is not None:
                hooked = self.hook(rec)
                if hooked is not None:
                    return self._note(rec, hooked, "hook")
            scripted = self._take_scripted(rec, after=False)
            if scripted is not None:
                return self._note(rec, scripted, "inject")
            if self.rate > 0 and (self._methods is None or rec.method in self._methods):
                # Two draws per eligible request keep the sequence stable whatever the outcome.
                hit = self._rng.random() < self.rate
                status = self._rng.choice(self.statuses)
                if hit:
                    code, message = _DEFAULT_MESSAGES.get(status, ("InjectedFault", "Injected fault."))
                    return self._note(rec, FaultResponse(status, code, message), "rate")
            return None

    def after(self, rec: RequestRecord) -> FaultResponse | None:
        with self._lock:
            scripted = self._take_scripted(rec, after=True)
            return None if scripted is None else self._note(rec, scripted, "inject")

    def take_lro_failure(self, resource_id: str, kind: str) -> dict[str, str] | None:
        with self._lock:
            key = resource_id.lower().rstrip("/")
            for item in self._lro:
                if item.times > 0 and item.resource_id == key and item.kind in (None, kind):
                    item.times -= 1
                    return {"code": item.code, "message": item.message}
            return None

    def _take_scripted(self, rec: RequestRecord, after: bool) -> FaultResponse | None:
        for item in self._scripted:
            if item.matches(rec, after):
                item.times -= 1
                return item.response
        return None

    def _note(self, rec: RequestRecord, resp: FaultResponse, source: str) -> FaultResponse:
        self.injected.append(InjectedFault(rec.seq, rec.method, rec.path, resp.status, resp.code, source))
        return resp
