"""The live view of running steps on stderr: a rich table when interactive, one line per change otherwise."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..output import Output

STYLES = {"done": "green", "planned": "cyan", "failed": "red", "skipped": "yellow", "unchanged": "dim"}


class StepView:
    def __init__(self, output: Output, names: list[str], *, transient: bool = False):
        self.output = output
        self.transient = transient  # the planning view gives way to the plan table
        self.rows: dict[str, list[Any]] = {n: ["pending", "", None, None] for n in names}
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> StepView:
        if self.output.interactive:
            from rich.live import Live

            self._live = Live(self._render(), console=self.output.console, refresh_per_second=8,
                              transient=self.transient)
            self._live.__enter__()
            self._live.get_renderable = self._render  # re-rendered on every refresh: elapsed time ticks
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)

    def update(self, name: str, status: str, detail: str = "") -> None:
        with self._lock:
            row = self.rows.setdefault(name, ["pending", "", None, None])
            if row[2] is None and status not in ("pending",):
                row[2] = time.monotonic()
            if status in ("done", "failed", "skipped", "planned"):
                row[3] = time.monotonic()
            row[0], row[1] = status, detail
        if self._live is None:
            self.output.info(f"{name}: {status}" + (f" ({detail})" if detail else ""))

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("STEP", "STATUS", "ELAPSED", "DETAIL"):
            table.add_column(column)
        now = time.monotonic()
        with self._lock:
            for name, (status, detail, began, ended) in self.rows.items():
                elapsed = "" if began is None else f"{(ended or now) - began:5.1f}s"
                style = STYLES.get(status, "")
                table.add_row(name, f"[{style}]{status}[/{style}]" if style else status, elapsed, detail)
        return table
