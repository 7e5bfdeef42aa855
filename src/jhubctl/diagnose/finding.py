"""What a check reports: one finding per problem (or one `ok`), each with a stable code, the evidence it
saw and one concrete fix.

Codes are an interface, like exit codes: operators paste them into issue threads and scripts switch on
them, so a code keeps its meaning forever (docs/troubleshooting.md lists every one). The area is the
code's hundred: JH1xx local, JH2xx azure, JH3xx cluster, JH4xx hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AREAS = ("local", "azure", "cluster", "hub")
#: Worst first: the order a summary counts them in.
STATUSES = ("fail", "warn", "ok", "skip")
#: Evidence lines kept per finding; the rest are counted, so a thousand failing pods stay readable.
MAX_EVIDENCE = 12

_KEYS = r"(?:api[_-]?token|apitoken|token|password|passwd|secret|client[_-]?secret|api[_-]?key|access[_-]?key)"
#: Credentials as they show up in log lines and messages: key=value, "key": "value", an Authorization header.
_SECRET = (
    re.compile(rf"(?i)(\b[\w.-]*{_KEYS}\s*=\s*)[^\s\"',;&]+"),
    re.compile(rf"(?i)([\"'][\w.-]*{_KEYS}[\"']\s*:\s*[\"'])[^\"']+"),
    re.compile(r"(?i)(\bauthorization:?\s*(?:bearer|token|basic)\s+)\S+"),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A line as seen, minus anything secret: the values jhubctl knows to be secret, and `token=...`-like
    pairs (a log line may carry a credential jhubctl never held). Digests and ids stay: they are evidence."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    for pattern in _SECRET:
        text = pattern.sub(lambda m: m.group(1) + "<redacted>", text)
    return text


@dataclass(frozen=True)
class Finding:
    code: str
    area: str
    status: str  # ok | warn | fail | skip
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "area": self.area, "status": self.status, "summary": self.summary,
                "evidence": list(self.evidence), "fix": self.fix}


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the runner adds the area and (unless set) the check's own code."""

    status: str
    summary: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None
    code: str | None = None


def _lines(evidence: Any) -> tuple[str, ...]:
    lines = [str(line) for line in (evidence or ())]
    if len(lines) > MAX_EVIDENCE:
        lines = lines[: MAX_EVIDENCE - 1] + [f"... and {len(lines) - MAX_EVIDENCE + 1} more"]
    return tuple(lines)


def ok(summary: str, evidence: Any = (), *, code: str | None = None) -> Outcome:
    return Outcome("ok", summary, _lines(evidence), None, code)


def warn(summary: str, evidence: Any = (), fix: str | None = None, *, code: str | None = None) -> Outcome:
    return Outcome("warn", summary, _lines(evidence), fix, code)


def fail(summary: str, evidence: Any = (), fix: str | None = None, *, code: str | None = None) -> Outcome:
    return Outcome("fail", summary, _lines(evidence), fix, code)


class Skip(Exception):
    """The check cannot run here (no cluster configured, an unreachable API, no credential); the message
    says why. Raised by checks and by the facts they ask for, so one unreachable API skips every check
    that needs it, each saying so, instead of crashing or failing them all."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    #: Set when diagnose itself could not run (a bad config): exit 2.
    broken: bool = False

    @property
    def exit_code(self) -> int:
        if self.broken:
            return 2
        return 1 if any(f.status == "fail" for f in self.findings) else 0

    def counts(self) -> dict[str, int]:
        return {status: sum(f.status == status for f in self.findings) for status in STATUSES}
