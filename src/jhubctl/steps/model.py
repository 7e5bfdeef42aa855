"""What a step is and what it plans: the vocabulary shared by provision, its dry run and status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "unchanged", "delete"]


@dataclass(frozen=True)
class Change:
    """One resource's planned change, from a real GET compared with the desired state."""

    action: Action
    resource: str
    fields: tuple[str, ...] = ()  # for updates: the differing fields, dotted paths

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "fields": list(self.fields)}


def _silent(detail: str) -> None:
    pass


@dataclass
class StepContext:
    """What a step may use: the inputs from steps it needs, a place for values not to be journaled, and a
    way to say what it waits for (shown live beside the step)."""

    inputs: dict[str, dict[str, Any]]  # outputs of earlier steps, by step name
    dry_run: bool = False
    transient: dict[str, Any] = field(default_factory=dict)  # secrets handed between steps, never saved
    seen: dict[str, Any] = field(default_factory=dict)  # what this step's plan read, so apply need not GET again
    report: Callable[[str], None] = _silent

    def input(self, step: str, key: str) -> Any:
        return self.inputs.get(step, {}).get(key)


@dataclass(frozen=True)
class Step:
    """A unit of provisioning. `plan` only reads; `apply` writes only what `plan` found missing or different.

    `apply` receives the plan it must carry out, so an up-to-date step sends no write request.
    """

    name: str
    description: str
    needs: tuple[str, ...]
    plan: Callable[[StepContext], list[Change]]
    apply: Callable[[StepContext, list[Change]], dict[str, Any]]
