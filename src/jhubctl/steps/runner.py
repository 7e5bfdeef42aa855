"""Run steps over their dependency graph: independent steps at once, dependents when their inputs exist.

A failed step does not stop siblings already running (half-finished Azure operations are worse than
finished ones); its dependents are skipped. Every outcome goes to the journal, so a re-run (or
`--only`) picks up with the outputs of what succeeded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import UsageError
from ..state import Journal, Record, now
from .model import Change, Step, StepContext

Describe = Callable[[BaseException], tuple[str, str | None]]


class View(Protocol):
    def update(self, name: str, status: str, detail: str = "") -> None: ...


@dataclass
class StepResult:
    name: str
    status: str  # planned | succeeded | failed | skipped
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name, "status": self.status, "changes": [c.as_dict() for c in self.changes],
            "outputs": self.outputs, "error": self.error, "hint": self.hint, "seconds": round(self.seconds, 3),
        }


def order(steps: Iterable[Step]) -> list[Step]:
    """Topological order (stable by declaration); a cycle or unknown dependency is a bug, caught early."""
    by_name = {s.name: s for s in steps}
    seen: dict[str, bool] = {}
    result: list[Step] = []

    def visit(step: Step) -> None:
        if seen.get(step.name) is False:
            raise ValueError(f"dependency cycle through {step.name}")
        if step.name in seen:
            return
        seen[step.name] = False
        for dep in step.needs:
            visit(by_name[dep])
        seen[step.name] = True
        result.append(step)

    for step in by_name.values():
        visit(step)
    return result


class StepRunner:
    def __init__(self, steps: list[Step], journal: Journal, *, config_hash: str, describe: Describe):
        self.steps = order(steps)
        self.by_name = {s.name: s for s in self.steps}
        self.journal = journal
        self.config_hash = config_hash
        self.describe = describe
        self._lock = threading.Lock()  # journal writes and shared outputs
        self.transient: dict[str, Any] = {}

    def select(self, only: Iterable[str] | None) -> list[Step]:
        if not only:
            return self.steps
        names = set(only)
        unknown = sorted(names - set(self.by_name))
        if unknown:
            raise UsageError(
                f"unknown step {', '.join(unknown)}", hint=f"steps are: {', '.join(s.name for s in self.steps)}"
            )
        return [s for s in self.steps if s.name in names]

    def _inputs(self) -> dict[str, dict[str, Any]]:
        return {name: dict(step.outputs) for name, step in self.journal.steps().items() if step.status == "succeeded"}

    def plan(self, view: View, only: Iterable[str] | None = None) -> list[StepResult]:
        """Dry run: every selected step's plan from real GETs; nothing is written, not even the journal."""
        selected = self.select(only)
        inputs = self._inputs()
        results: dict[str, StepResult] = {}

        def one(step: Step) -> StepResult:
            began = time.monotonic()
            view.update(step.name, "checking")
            try:
                changes = step.plan(StepContext(inputs=inputs, dry_run=True, transient=self.transient,
                                                report=lambda detail: view.update(step.name, "checking", detail)))
            except Exception as exc:  # noqa: BLE001 - reported per step
                message, hint = self.describe(exc)
                view.update(step.name, "failed", message)
                return StepResult(step.name, "failed", error=message, hint=hint, seconds=time.monotonic() - began)
            view.update(step.name, "planned", summary(changes))
            return StepResult(step.name, "planned", changes, seconds=time.monotonic() - began)

        with ThreadPoolExecutor(max_workers=max(1, len(selected))) as pool:
            for step, result in zip(selected, pool.map(one, selected), strict=True):
                results[step.name] = result
        return [results[s.name] for s in selected]

    def apply(self, view: View, only: Iterable[str] | None = None) -> list[StepResult]:
        selected = self.select(only)
        chosen = {s.name for s in selected}
        inputs = self._inputs()
        for step in selected:
            missing = [d for d in step.needs if d not in chosen and d not in inputs]
            if missing:
                raise UsageError(
                    f"step {step.name} needs {', '.join(missing)}, which has not succeeded yet",
                    hint=f"add them: --only {' --only '.join([*missing, step.name])}, or run without --only",
                )
        results: dict[str, StepResult] = {}
        pending = list(selected)
        running: dict[Future[StepResult], Step] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(selected))) as pool:
            while pending or running:
                for step in list(pending):
                    deps = [d for d in step.needs if d in chosen]
                    if any(results.get(d) and results[d].status != "succeeded" for d in deps):
                        pending.remove(step)
                        blocked = [d for d in deps if results.get(d) and results[d].status != "succeeded"]
                        results[step.name] = StepResult(step.name, "skipped", error=f"needs {', '.join(blocked)}")
                        view.update(step.name, "skipped", f"needs {', '.join(blocked)}")
                    elif all(d in results for d in deps):
                        pending.remove(step)
                        running[pool.submit(self._apply_one, step, inputs, view)] = step
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    result = future.result()
                    results[step.name] = result
                    if result.status == "succeeded":
                        with self._lock:
                            inputs[step.name] = result.outputs
        return [results[s.name] for s in selected]

    def _apply_one(self, step: Step, inputs: dict[str, dict[str, Any]], view: View) -> StepResult:
        began = time.monotonic()
        started = now()
        with self._lock:
            snapshot = {k: dict(v) for k, v in inputs.items()}
            self.journal.record(step.name, Record("running", started, None, self.config_hash))
        phase = ["checking"]
        ctx = StepContext(inputs=snapshot, transient=self.transient,
                          report=lambda detail: view.update(step.name, phase[0], detail))
        changes: list[Change] = []
        try:
            view.update(step.name, "checking")
            changes = step.plan(ctx)
            writes = [c for c in changes if c.action != "unchanged"]
            phase[0] = "applying" if writes else "verifying"
            view.update(step.name, phase[0], summary(changes))
            outputs = step.apply(ctx, changes)
        except Exception as exc:  # noqa: BLE001 - a failed step is a result, siblings go on
            message, hint = self.describe(exc)
            with self._lock:
                self.journal.record(step.name, Record("failed", started, now(), self.config_hash, {}, message))
            view.update(step.name, "failed", message)
            return StepResult(step.name, "failed", changes, error=message, hint=hint,
                              seconds=time.monotonic() - began)
        with self._lock:
            self.journal.record(step.name, Record("succeeded", started, now(), self.config_hash, outputs))
        view.update(step.name, "done", summary(changes))
        return StepResult(step.name, "succeeded", changes, outputs, seconds=time.monotonic() - began)


def summary(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in counts.items()) or "nothing to do"
