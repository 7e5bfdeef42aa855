"""The one voice of the CLI: status and progress to stderr, data to stdout, JSON when asked.

Keeping stdout for data means `jhubctl start-server ... | xargs` and `-o json | jq` work while
progress is still visible. rich honours NO_COLOR / FORCE_COLOR and drops live views when stderr
is not a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    verbose: int = 0
    color: bool | None = None  # None: rich decides (tty, NO_COLOR, FORCE_COLOR)
    err: Console = field(init=False)
    out: Console = field(init=False)

    def __post_init__(self) -> None:
        # rich's own NO_COLOR handling keeps bold and dim; "no colour" here means no escape codes at all.
        plain = self.color is False or (self.color is None and bool(os.environ.get("NO_COLOR")))
        force = True if self.color else None
        kwargs: dict[str, Any] = {"highlight": False, "soft_wrap": True, "force_terminal": force}
        if plain:
            kwargs["color_system"] = None
        self.err = Console(stderr=True, **kwargs)
        self.out = Console(**kwargs)
        if not self.out.is_terminal:
            self.out.width = 400  # a pipe or file gets whole lines, as kubectl prints them

    # status, to stderr
    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(escape(message))

    def success(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[green]✓[/green] {escape(message)}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {escape(message)}")

    def error(self, message: str, hint: str | None = None) -> None:
        self.err.print(f"[bold red]error:[/bold red] {escape(message)}")
        if hint:
            self.err.print(f"[dim]hint:[/dim] {escape(hint)}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self.err.print(f"[dim]{escape(message)}[/dim]")

    def ansi(self, text: str, *, stderr: bool = True) -> None:
        """Text with ANSI colours (IPython tracebacks): kept on a colour terminal, stripped elsewhere."""
        from rich.text import Text

        (self.err if stderr else self.out).print(Text.from_ansi(text))

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and not self.quiet

    # data, to stdout
    def data(self, payload: Any, human: str | None = None) -> None:
        """Emit a result: JSON in --json mode, else the human line (if any)."""
        if self.json_mode:
            sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            self.out.print(escape(human))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
        table = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*(escape("" if v is None else str(v)) for v in row))
        self.out.print(table)

    @contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator[ProgressHandle]:
        """A rich progress bar on stderr when interactive; a plain line otherwise (logs stay readable)."""
        if not self.interactive:
            self.info(f"{description} ...")
            yield ProgressHandle(None, None, self)
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[message]}"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total, message="")
            yield ProgressHandle(bar, task, self)


@dataclass
class ProgressHandle:
    bar: Any
    task: Any
    output: Output

    def update(self, completed: float | None = None, message: str | None = None) -> None:
        if self.bar is not None:
            fields: dict[str, Any] = {}
            if message is not None:
                fields["message"] = escape(message)
            self.bar.update(self.task, completed=completed, **fields)
        elif message:
            self.output.debug(message)
