"""Fault injection for the fake Kubernetes API.

Two knobs, like the fake ARM's:

* scripted answers for matching requests (``inject``), matched by Kubernetes verb, resource, name,
  namespace, subresource (or method / path substring), optionally *after* the request took effect —
  the "write happened but the answer was lost" case;
* :attr:`Faults.hook`, called with every request, which may answer it itself.

An injected answer is a real ``Status`` body (reason, code, message, details), so the client cannot
tell it from an API server error. Every injected answer is recorded in :attr:`Faults.injected`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from .common import REASONS, KubeStatusError, RequestRecord


@dataclass
class FaultResponse:
    """A Status answer to send instead of the real one. ``reason``/``message`` default from the code."""

    code: int
    reason: str | None = None
    message: str | None = None
    #: ``Retry-After`` header (seconds), e.g. for 429.
    retry_after: str | None = None

    def to_error(self, rec: RequestRecord) -> KubeStatusError:
        reason = self.reason or REASONS.get(self.code, "InternalError")
        message = self.message or f"injected by the fake Kubernetes API ({rec.verb or rec.method} {rec.target})"
        if self.code == 500 and not message.startswith("Internal error occurred"):
            message = f"Internal error occurred: {message}"
        details: dict[str, object] | None = None
        if rec.resource is not None:
            details = {}
            if rec.name:
                details["name"] = rec.name
            if rec.group:
                details["group"] = rec.group
            details["kind"] = rec.resource
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else None
        return KubeStatusError(self.code, reason, message, details=details, headers=headers)


@dataclass
class _Scripted:
    response: FaultResponse
    verb: str | None
    resource: str | None
    name: str | None
    namespace: str | None
    subresource: str | None
    method: str | None
    path_contains: str | None
    times: int
    after: bool

    def matches(self, rec: RequestRecord, after: bool) -> bool:
        if self.times <= 0 or self.after != after:
            return False
        if self.verb and rec.verb != self.verb:
            return False
        if self.resource and self.resource not in (rec.resource, f"{rec.resource}.{rec.group}" if rec.group else rec.resource):
            return False
        if self.name and rec.name != self.name:
            return False
        if self.namespace and rec.namespace != self.namespace:
            return False
        if self.subresource is not None and (rec.subresource or "") != self.subresource:
            return False
        if self.method and rec.method != self.method.upper():
            return False
        return not self.path_contains or self.path_contains in rec.path


@dataclass
class InjectedFault:
    seq: int
    method: str
    path: str
    code: int
    reason: str
    source: str  # "inject" | "hook"


@dataclass
class Faults:
    """Fault configuration of one :class:`~tests.fakes.kube.server.FakeKube`. Thread-safe."""

    #: Called with every request record (route fields filled) before it is handled; may return a
    #: :class:`FaultResponse` to answer it. Runs under the fault lock: keep it quick.
    hook: Callable[[RequestRecord], FaultResponse | None] | None = None
    injected: list[InjectedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._scripted: list[_Scripted] = []

    def inject(
        self,
        code: int,
        reason: str | None = None,
        message: str | None = None,
        *,
        verb: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        subresource: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
        after: bool = False,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with this Status.

        ``verb`` is the Kubernetes verb (get, list, create, update, patch, delete, deletecollection);
        ``resource`` the plural, optionally qualified (``csidrivers.storage.k8s.io``); ``subresource``
        ``""`` matches only the main resource, ``None`` anything. With ``after=True`` the request is
        processed first and only its answer is replaced.
        """
        with self._lock:
            self._scripted.append(
                _Scripted(
                    FaultResponse(code, reason, message, retry_after),
                    verb, resource, name, namespace, subresource, method, path_contains, times, after,
                )
            )

    def clear(self) -> None:
        with self._lock:
            self.hook = None
            self._scripted.clear()

    def count(self, code: int | None = None) -> int:
        with self._lock:
            return sum(1 for f in self.injected if code is None or f.code == code)

    # -- used by the server ----------------------------------------------------------------------
    def before(self, rec: RequestRecord) -> KubeStatusError | None:
        with self._lock:
            if self.hook is not None:
                hooked = self.hook(rec)
                if hooked is not None:
                    return self._note(rec, hooked.to_error(rec), "hook")
            scripted = self._take(rec, after=False)
            return None if scripted is None else self._note(rec, scripted.to_error(rec), "inject")

    def after(self, rec: RequestRecord) -> KubeStatusError | None:
        with self._lock:
            scripted = self._take(rec, after=True)
            return None if scripted is None else self._note(rec, scripted.to_error(rec), "inject")

    def _take(self, rec: RequestRecord, after: bool) -> FaultResponse | None:
        for item in self._scripted:
            if item.matches(rec, after):
                item.times -= 1
                return item.response
        return None

    def _note(self, rec: RequestRecord, err: KubeStatusError, source: str) -> KubeStatusError:
        self.injected.append(InjectedFault(rec.seq, rec.method, rec.path, err.code, err.reason, source))
        return err
