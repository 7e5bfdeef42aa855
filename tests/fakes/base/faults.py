"""Fault injection shared by the fakes.

Three knobs, because a client has to survive different kinds of trouble:

* a *rate* of transient errors on any request (throttling, flaky front doors), drawn from a seeded
  RNG so a failing run can be replayed (:meth:`Faults.set_rate`);
* scripted answers for the next matching requests (each fake's ``inject`` builds them), optionally
  *after* the request took effect — the "write happened but the answer was lost" case;
* :attr:`Faults.hook`, called with every request, which may answer it itself.

Every injected answer is recorded in :attr:`Faults.injected`. A fake subclasses :class:`Faults` to say
what an answer is (:meth:`Faults._answer`) and, if it matches on more than method and path, subclasses
:class:`Scripted`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable


@dataclass
class FaultResponse:
    """An error answer (status, error code, message) for fakes whose errors have that shape."""

    status: int
    code: str
    message: str
    #: ``Retry-After`` value; ``None`` = the fake's default for 429/503, omitted otherwise.
    retry_after: str | None = None

    def retry_headers(self, default_retry_after: str) -> dict[str, str]:
        retry_after = self.retry_after
        if retry_after is None and self.status in (429, 503):
            retry_after = default_retry_after
        return {} if retry_after is None else {"Retry-After": retry_after}


@dataclass
class Scripted:
    """A scripted answer for the next ``times`` requests that match."""

    response: Any
    method: str | None = None
    path_contains: str | None = None
    times: int = 1
    after: bool = False
    ignore_case: ClassVar[bool] = True

    def matches(self, rec: Any, after: bool) -> bool:
        if self.times <= 0 or self.after != after:
            return False
        if self.method and rec.method != self.method.upper():
            return False
        if not self.path_contains:
            return True
        if self.ignore_case:
            return self.path_contains.lower() in rec.path.lower()
        return self.path_contains in rec.path


@dataclass
class InjectedFault:
    seq: int
    method: str
    path: str
    status: int
    code: str
    source: str  # "rate" | "inject" | "hook"


@dataclass
class Faults:
    """Fault configuration of one fake. Thread-safe."""

    rate: float = 0.0
    #: Statuses of rate faults; ``default_statuses`` until :meth:`set_rate` says otherwise.
    statuses: tuple[int, ...] = ()
    #: Called with every request record before it is handled; may return a fault response to answer
    #: it. Runs under the fault lock: keep it quick.
    hook: Callable[[Any], Any] | None = None
    injected: list[Any] = field(default_factory=list)

    default_statuses: ClassVar[tuple[int, ...]] = (429, 500)
    #: ``status -> (code, message)`` of rate faults, and the pair for other statuses.
    rate_messages: ClassVar[dict[int, tuple[str, ...]]] = {}
    rate_fallback: ClassVar[tuple[str, ...]] = ()
    response_class: ClassVar[type] = FaultResponse

    def __post_init__(self) -> None:
        self.statuses = self.statuses or self.default_statuses
        self._lock = threading.RLock()  # re-entrant: a hook may call count()
        self._rng = random.Random(0)
        self._methods: frozenset[str] | None = None
        self._scripted: list[Scripted] = []

    # -- configuration -------------------------------------------------------------------------
    def set_rate(
        self,
        rate: float,
        *,
        statuses: Iterable[int] | None = None,
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
            self.statuses = tuple(statuses) if statuses is not None else self.default_statuses
            self._rng = random.Random(seed)
            self._methods = frozenset(m.upper() for m in methods) if methods else None

    def _script(self, scripted: Scripted) -> None:
        with self._lock:
            self._scripted.append(scripted)

    def clear(self) -> None:
        with self._lock:
            self.rate = 0.0
            self.hook = None
            self._scripted.clear()

    # -- inspection ----------------------------------------------------------------------------
    def count(self, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for f in self.injected if status is None or f.status == status)

    # -- used by the server --------------------------------------------------------------------
    def before(self, rec: Any) -> Any:
        """The fault answer for ``rec`` before it is handled, or ``None``."""
        with self._lock:
            if self.hook is not None:
                hooked = self.hook(rec)
                if hooked is not None:
                    return self._note(rec, hooked, "hook")
            scripted = self._take(rec, after=False)
            if scripted is not None:
                return self._note(rec, scripted, "inject")
            if self.rate > 0 and (self._methods is None or rec.method in self._methods):
                # Two draws per eligible request keep the sequence stable whatever the outcome.
                hit = self._rng.random() < self.rate
                status = self._rng.choice(self.statuses)
                if hit:
                    text = self.rate_messages.get(status, self.rate_fallback)
                    return self._note(rec, self.response_class(status, *text), "rate")
            return None

    def after(self, rec: Any) -> Any:
        """The answer replacing that of ``rec`` after it took effect, or ``None``."""
        with self._lock:
            scripted = self._take(rec, after=True)
            return None if scripted is None else self._note(rec, scripted, "inject")

    def _take(self, rec: Any, after: bool) -> Any:
        for item in self._scripted:
            if item.matches(rec, after):
                item.times -= 1
                return item.response
        return None

    def _note(self, rec: Any, response: Any, source: str) -> Any:
        answer = self._answer(rec, response)
        self.injected.append(self._injected(rec, answer, source))
        return answer

    def _answer(self, rec: Any, response: Any) -> Any:
        """What ``before``/``after`` hand the server for a fault ``response``."""
        return response

    def _injected(self, rec: Any, answer: Any, source: str) -> Any:
        return InjectedFault(rec.seq, rec.method, rec.path, answer.status, answer.code, source)
