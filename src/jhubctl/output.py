"""The one voice of the CLI: status and progress to stderr, data to stdout, JSON when asked.

Keeping stdout for data means `jhubctl start-server ... | xargs` and `-o json | jq` work while
progress is still visible. The outside world (streams, terminal detection, colour, environment
variables) comes in as one `Environment`, in the manner of httpie's, so tests swap it instead of
patching globals, and no command writes to `sys.stdout` behind the output's back.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

@dataclass
class Environment:
    """What the CLI reads of the world it runs in; built at call time, so a test's captured streams count."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: None: ask the streams; tests set True to get the interactive behaviour (live views, prompts).
    stderr_isatty: bool | None = None

    @property
    def no_color(self) -> bool:
        return bool(self.environ.get("NO_COLOR"))


@dataclass
class Output:
    env: Environment = field(default_factory=Environment)
    json_mode: bool = False
    quiet: bool = False
    verbose: int = 0
    color: bool | None = None  # --color/--no-color; None: decide from the terminal, NO_COLOR, FORCE_COLOR
    _err: Console = field(init=False, repr=False)
    _out: Console = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # rich's own NO_COLOR handling keeps bold and dim; "no colour" here means no escape codes at all.
        plain = self.color is False or (self.color is None and self.env.no_color)
        common: dict[str, Any] = {"highlight": False, "soft_wrap": True, "_environ": dict(self.env.environ)}
        if plain:
            common["color_system"] = None
        forced = True if self.color else None  # None: rich asks FORCE_COLOR, then the stream itself
        err_terminal = forced if forced is not None else self.env.stderr_isatty
        self._err = Console(file=self.env.stderr, force_terminal=err_terminal, **common)
        self._out = Console(file=self.env.stdout, force_terminal=forced, **common)
        if not self._out.is_terminal:
            self._out.width = 400  # a pipe or file gets whole lines, as kubectl prints them

    # status, to stderr
    def info(self, message: str) -> None:
        if not self.quiet:
            self._err.print(escape(message))

    def success(self, message: str) -> None:
        if not self.quiet:
            self._err.print(f"[green]✓[/green] {escape(message)}")

    def warn(self, message: str) -> None:
        self._err.print(f"[yellow]warning:[/yellow] {escape(message)}")

    def error(self, message: str, hint: str | None = None) -> None:
        self._err.print(f"[bold red]error:[/bold red] {escape(message)}")
        if hint:
            self._err.print(f"[dim]hint:[/dim] {escape(hint)}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self._err.print(f"[dim]{escape(message)}[/dim]")

    def ansi(self, text: str, *, stderr: bool = True) -> None:
        """Text with ANSI colours (IPython tracebacks): kept on a colour terminal, stripped elsewhere."""
        from rich.text import Text

        (self._err if stderr else self._out).print(Text.from_ansi(text))

    def stream(self, text: str, *, stderr: bool = False) -> None:
        """Text exactly as a program produced it (the user's code's stdout/stderr, a token): no markup, no wrap."""
        target = self.env.stderr if stderr else self.env.stdout
        target.write(text)
        target.flush()

    @property
    def interactive(self) -> bool:
        return self._err.is_terminal and not self.quiet

    @property
    def console(self) -> Console:
        """The stderr console, for live views (step tables, progress) that must share it with status lines."""
        return self._err

    # data, to stdout
    def data(self, payload: Any, human: str | None = None) -> None:
        """Emit a result: JSON in --json mode, else the human line (if any)."""
        if self.json_mode:
            self.stream(json.dumps(payload, indent=2, default=str) + "\n")
        elif human is not None:
            self._out.print(escape(human))

    def text(self, text: str) -> None:
        """Data that is already text (YAML, a schema, a result's repr): printed whole, never as markup."""
        self._out.print(text, markup=False, highlight=False)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None,
              *, whole: Sequence[str] = ()) -> None:
        """A table on stdout; columns named in `whole` (URLs, ids users copy) are never cut or wrapped: on a
        narrow terminal the table is laid out wider than the screen (the terminal wraps the line, as kubectl's)."""
        table = Table(title=title, box=None, header_style="bold", pad_edge=False)
        for column in columns:
            keep = column in whole
            table.add_column(column, no_wrap=keep, overflow="ignore" if keep else "fold")
        for row in rows:
            table.add_row(*(escape("" if v is None else str(v)) for v in row))
        natural = sum(max(len("" if r[i] is None else str(r[i])) for r in [columns, *rows]) for i in range(len(columns)))
        needed = natural + 2 * len(columns) if whole else 0  # every column at its width, and the gaps
        width = self._out.width
        self._out.width = max(width, needed)  # print(width=) is capped at the console's width
        try:
            self._out.print(table, crop=False)
        finally:
            self._out.width = width

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
            console=self._err,
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
