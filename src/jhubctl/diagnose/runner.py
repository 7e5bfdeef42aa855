"""The checks' registry, the facts they share, and the runner that runs them side by side.

A check is a small function of :class:`Facts` returning outcomes. Facts are fetched once per run and
shared (:meth:`Facts.once`): the first check that needs the pods lists them, page by page, and every
other check waits for that one answer, so a cluster with thousands of pods costs one paginated list per
kind however many checks read it. Checks run concurrently; a fact that cannot be had (no cluster, an
unreachable API, no credential) raises :class:`~.finding.Skip`, which skips every check that needs it
with the reason, while the check that owns that fact reports the failure itself.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..config import Loaded
from ..errors import JhubctlError
from .finding import AREAS, Finding, Outcome, Report, Skip, redact

Result = Outcome | list[Outcome]
#: Checks running at once: most of their time is spent waiting for an API.
WORKERS = 8


@dataclass(frozen=True)
class Check:
    code: str
    area: str
    title: str
    func: Callable[[Facts], Result]
    #: Further codes this check reports (a crash loop whose log names the cause gets that cause's code).
    also: dict[str, str] = field(default_factory=dict)
    #: Runs only for `--user`.
    per_user: bool = False

    def codes(self) -> dict[str, str]:
        return {self.code: self.title, **self.also}


REGISTRY: dict[str, list[Check]] = {area: [] for area in AREAS}


def checker(area: str) -> Callable[..., Callable[[Callable[[Facts], Result]], Callable[[Facts], Result]]]:
    """The decorator an area module registers its checks with: ``@check("JH302", "nodes are Ready")``."""

    def check(code: str, title: str, *, also: dict[str, str] | None = None, per_user: bool = False
              ) -> Callable[[Callable[[Facts], Result]], Callable[[Facts], Result]]:
        def register(func: Callable[[Facts], Result]) -> Callable[[Facts], Result]:
            REGISTRY[area].append(Check(code, area, title, func, dict(also or {}), per_user))
            return func

        return register

    return check


def registry() -> dict[str, list[Check]]:
    """Every check, by area, in the order they are shown (importing the area modules registers them)."""
    from . import azure, cluster, hub, local  # noqa: F401

    return REGISTRY


class Facts:
    """What checks read, fetched at most once per run (results and failures alike) and shared by threads."""

    def __init__(self, loaded: Loaded, *, user: str | None = None, conversation: str | None = None):
        self.loaded = loaded
        self.config = loaded.config
        self.user = user
        self.conversation = conversation
        self._values: dict[str, tuple[bool, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self._secrets: set[str] = set()

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                try:
                    self._values[key] = (True, make())
                except Exception as exc:  # noqa: BLE001 - kept, and raised to every caller alike
                    self._values[key] = (False, exc)
            good, value = self._values[key]
        if good:
            return value
        raise value

    def closing(self, close: Callable[[], None]) -> None:
        """Run ``close`` when the run ends (clients' connection pools)."""
        with self._guard:
            self._closers.append(close)

    def secret(self, value: str | None) -> None:
        """A value that must never show up in evidence (it is replaced by <redacted>)."""
        if value:
            with self._guard:
                self._secrets.add(value)

    @property
    def secrets(self) -> tuple[str, ...]:
        with self._guard:
            return tuple(sorted(self._secrets, key=len, reverse=True))

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must not hide the report
                pass


def gate(reason: str, fact: Callable[[], Any]) -> Any:
    """``fact()``, or a Skip giving ``reason`` and the failure: the check that owns the fact reports it, every
    other check that needs it says so and which code to read."""
    try:
        return fact()
    except JhubctlError as exc:
        raise Skip(f"{reason}: {exc.message}") from None


def _findings(check: Check, facts: Facts, debug: Callable[[str], None]) -> list[Finding]:
    try:
        result = check.func(facts)
        outcomes = result if isinstance(result, list) else [result]
    except Skip as skip:
        outcomes = [Outcome("skip", skip.reason)]
    except JhubctlError as exc:
        outcomes = [Outcome("skip", f"could not check: {exc.message}")]
    except Exception as exc:  # noqa: BLE001 - one broken check must not take the report down
        debug(traceback.format_exc())
        outcomes = [Outcome("skip", f"could not check: {type(exc).__name__}: {exc} (a bug: --debug shows where)")]
    secrets = facts.secrets
    return [Finding(o.code or check.code, check.area, o.status, redact(o.summary, secrets),
                    tuple(redact(line, secrets) for line in o.evidence), o.fix) for o in outcomes]


def run(loaded: Loaded, *, areas: Sequence[str] = AREAS, user: str | None = None, conversation: str | None = None,
        debug: Callable[[str], None] = lambda text: None, workers: int = WORKERS) -> Report:
    """Run every check of ``areas`` (the per-user ones only with ``user``); findings in the registry's order."""
    chosen = [c for area in areas for c in registry()[area] if user is not None or not c.per_user]
    facts = Facts(loaded, user=user, conversation=conversation)
    try:
        from ..state import Secrets

        facts.secret(Secrets(loaded.state_dir, loaded.environ).api_token(create=False))
    except JhubctlError:
        pass  # an unreadable secrets file: JH402 says so
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="diagnose") as pool:
            done = list(pool.map(lambda c: _findings(c, facts, debug), chosen))
    finally:
        facts.close()
    return Report([finding for findings in done for finding in findings])


def broken(code: str, area: str, summary: str, evidence: Sequence[str], fix: str | None,
           areas: Sequence[str] = AREAS) -> Report:
    """The report when diagnose cannot run at all (a config it cannot read): that finding, every other skipped."""
    first = Finding(code, area, "fail", summary, tuple(evidence), fix)
    others = [Finding(c.code, c.area, "skip", f"not checked: the config is unusable ({code})")
              for name in areas for c in registry()[name] if c.code != code and not c.per_user]
    return Report([first, *others], broken=True)
