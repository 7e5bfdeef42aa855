"""Value types shared by the fake Kubernetes API modules: replies, API errors, the request record.

Errors are built the way the API server builds them (``k8s.io/apimachinery/pkg/api/errors``), because
clients (and jhubctl) read ``reason``, ``code``, ``message`` and ``details.causes`` from the Status
body, not just the HTTP status: a 409 can be ``AlreadyExists`` or ``Conflict``, and only the causes of
a 422 say *which* field was rejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base.log import RequestRecord as BaseRecord
from ..base.server import Reply

if TYPE_CHECKING:
    from .registry import ResourceType

#: HTTP status -> the ``reason`` the API server puts in a Status body for it.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def go_value(value: Any) -> str:
    """A value as it appears in a field error message (Go prints strings quoted, bools bare)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: becomes a ``details.causes`` entry and part of the message."""

    field: str
    #: ``FieldValueInvalid``, ``FieldValueRequired``, ``FieldValueForbidden``, ``FieldValueNotSupported``
    type: str
    detail: str = ""
    value: Any = None

    @property
    def body(self) -> str:
        """The part after ``<field>: `` (also the cause's ``message``)."""
        if self.type == "FieldValueInvalid":
            text = f"Invalid value: {go_value(self.value)}"
        elif self.type == "FieldValueRequired":
            text = "Required value"
        elif self.type == "FieldValueForbidden":
            text = "Forbidden"
        elif self.type == "FieldValueNotSupported":
            text = f"Unsupported value: {go_value(self.value)}"
        else:
            text = self.type
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body, "field": self.field}


class KubeStatusError(Exception):
    """An API error answer: a ``Status`` object with ``status: Failure``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def reply(self) -> Reply:
        return Reply(self.code, self.status_body(), dict(self.headers))

    # -- constructors mirroring k8s.io/apimachinery/pkg/api/errors ----------------------------
    @staticmethod
    def _details(rt: "ResourceType", name: str, *, kind: str | None = None) -> dict[str, Any]:
        details: dict[str, Any] = {"name": name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = kind or rt.plural
        return details

    @classmethod
    def not_found(cls, rt: "ResourceType", name: str) -> "KubeStatusError":
        return cls(404, "NotFound", f'{rt.qualified_resource} "{name}" not found', details=cls._details(rt, name))

    @classmethod
    def already_exists(cls, rt: "ResourceType", name: str) -> "KubeStatusError":
        return cls(409, "AlreadyExists", f'{rt.qualified_resource} "{name}" already exists', details=cls._details(rt, name))

    @classmethod
    def conflict(cls, rt: "ResourceType", name: str, why: str) -> "KubeStatusError":
        return cls(
            409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified_resource} "{name}": {why}', details=cls._details(rt, name)
        )

    @classmethod
    def stale(cls, rt: "ResourceType", name: str) -> "KubeStatusError":
        return cls.conflict(rt, name, "the object has been modified; please apply your changes to the latest version and try again")

    @classmethod
    def invalid(cls, rt: "ResourceType", name: str, errors: list[FieldError]) -> "KubeStatusError":
        # errors.NewInvalid: details.kind is the Kind here (not the plural), and several errors are
        # printed as a bracketed list.
        text = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
        details = cls._details(rt, name, kind=rt.kind)
        details["causes"] = [e.cause() for e in errors]
        return cls(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {text}', details=details)

    @classmethod
    def bad_request(cls, message: str) -> "KubeStatusError":
        return cls(400, "BadRequest", message)

    @classmethod
    def resource_not_found(cls) -> "KubeStatusError":
        return cls(404, "NotFound", "the server could not find the requested resource", details={})

    @classmethod
    def method_not_allowed(cls) -> "KubeStatusError":
        return cls(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", details={})

    @classmethod
    def internal(cls, message: str) -> "KubeStatusError":
        return cls(500, "InternalError", f"Internal error occurred: {message}", details={"causes": [{"message": message}]})


def success_status(rt: "ResourceType", name: str, uid: str | None) -> dict[str, Any]:
    """The Status a DELETE answers for types that do not return the deleted object."""
    details: dict[str, Any] = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


@dataclass
class RequestRecord(BaseRecord):
    """One request as the fake saw it (Authorization header removed).

    The route fields (``verb``, ``resource``, ``namespace``, ``name``, ``subresource``) are filled for
    API resource paths and stay ``None`` for ``/version``, discovery and unknown paths.
    """

    content_type: str | None = None
    verb: str | None = None
    group: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def target(self) -> str:
        """``csidrivers/blob.csi.azure.com``, ``pods/p1/log`` ... (``path`` for non-resource requests)."""
        if self.resource is None:
            return self.path
        parts = [self.resource] + [p for p in (self.name, self.subresource) if p]
        return "/".join(parts)

    def summary(self) -> tuple[str, str, int | None]:
        """``(verb, target, status)``: what request-sequence assertions compare."""
        return (self.verb or self.method, self.target, self.status)
