"""Fault injection for the fake Kubernetes API.

The knobs of the fake ARM's (:mod:`tests.fakes.base.faults`):

* scripted answers for matching requests (``inject``), matched by Kubernetes verb, resource, name,
  namespace, subresource (or method / path substring), optionally *after* the request took effect —
  the "write happened but the answer was lost" case;
* :attr:`Faults.hook`, called with every request, which may answer it itself;
* a seeded rate of transient errors (:meth:`Faults.set_rate`).

An injected answer is a real ``Status`` body (reason, code, message, details), so the client cannot
tell it from an API server error. Every injected answer is recorded in :attr:`Faults.injected`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import faults as base
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
class _Scripted(base.Scripted):
    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    namespace: str | None = None
    subresource: str | None = None
    ignore_case = False

    def matches(self, rec: RequestRecord, after: bool) -> bool:
        if not super().matches(rec, after):
            return False
        if self.verb and rec.verb != self.verb:
            return False
        if self.resource and self.resource not in (rec.resource, f"{rec.resource}.{rec.group}" if rec.group else rec.resource):
            return False
        if self.name and rec.name != self.name:
            return False
        if self.namespace and rec.namespace != self.namespace:
            return False
        return self.subresource is None or (rec.subresource or "") == self.subresource


@dataclass
class InjectedFault:
    seq: int
    method: str
    path: str
    code: int
    reason: str
    source: str  # "inject" | "hook" | "rate"


class Faults(base.Faults):
    """Fault configuration of one :class:`~tests.fakes.kube.server.FakeKube`. Thread-safe.

    :attr:`hook` is called with every request record (route fields filled) before it is handled; it
    may return a :class:`FaultResponse`. ``before``/``after`` hand the server a :class:`KubeStatusError`.
    """

    response_class = FaultResponse

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
        response = FaultResponse(code, reason, message, retry_after)
        self._script(_Scripted(response, method, path_contains, times, after, verb, resource, name, namespace, subresource))

    def count(self, code: int | None = None) -> int:
        with self._lock:
            return sum(1 for f in self.injected if code is None or f.code == code)

    def _answer(self, rec: RequestRecord, response: FaultResponse) -> KubeStatusError:
        return response.to_error(rec)

    def _injected(self, rec: RequestRecord, answer: KubeStatusError, source: str) -> InjectedFault:
        return InjectedFault(rec.seq, rec.method, rec.path, answer.code, answer.reason, source)
