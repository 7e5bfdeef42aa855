"""The one voice of the CLI: status and progress to stderr, data to stdout, JSON when asked.

Keeping stdout for data means `jhubctl start-server ... | xargs` and `-o json | jq` work while
progress is still visible. The outside world (streams, terminal detection, colour, environment
variables) comes in as one `Environment`, in the manner of httpie's, so tests swap it instead of
patching globals, and no command writes to `sys.stdout` behind the output's back.

A stream that is no terminal gets plain lines written directly; rich (colour, tables, live progress) is
imported only for a terminal or a table. An assistant calls `exec` through pipes dozens of times per
conversation, and rich's import is a tenth of such a call.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


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
    _consoles: dict[bool, Console] = field(init=False, repr=False, default_factory=dict)

    def _terminal(self, stderr: bool) -> bool:
        """rich's own rule (--color, TTY_COMPATIBLE, FORCE_COLOR, then the stream), decided without rich."""
        if self.color:
            return True
        if stderr and self.env.stderr_isatty is not None:
            return self.env.stderr_isatty
        compatible = self.env.environ.get("TTY_COMPATIBLE", "")
        if compatible in ("0", "1"):
            return compatible == "1"
        if (force := self.env.environ.get("FORCE_COLOR")) is not None:
            return force != ""
        try:
            return (self.env.stderr if stderr else self.env.stdout).isatty()
        except (AttributeError, ValueError):
            return False

    def _console(self, stderr: bool) -> Console:
        if stderr not in self._consoles:
            from rich.console import Console

            # rich's own NO_COLOR handling keeps bold and dim; "no colour" here means no escape codes at all.
            common: dict[str, Any] = {"highlight": False, "soft_wrap": True, "_environ": dict(self.env.environ)}
            if self.color is False or (self.color is None and self.env.no_color):
                common["color_system"] = None
            console = Console(file=self.env.stderr if stderr else self.env.stdout,
                              force_terminal=self._terminal(stderr), **common)
            if not console.is_terminal:
                console.width = 400  # a pipe or file gets whole lines, as kubectl prints them
            self._consoles[stderr] = console
        return self._consoles[stderr]

    def _line(self, markup: str, plain: str, *, stderr: bool = True) -> None:
        """One line: through rich on a terminal, written as it is elsewhere."""
        if self._terminal(stderr):
            self._console(stderr).print(markup)
        else:
            self.stream(plain + "\n", stderr=stderr)

    # status, to stderr
    def info(self, message: str) -> None:
        if not self.quiet:
            self._line(escape(message), message)

    def success(self, message: str) -> None:
        if not self.quiet:
            self._line(f"[green]✓[/green] {escape(message)}", f"✓ {message}")

    def warn(self, message: str) -> None:
        self._line(f"[yellow]warning:[/yellow] {escape(message)}", f"warning: {message}")

    def error(self, message: str, hint: str | None = None) -> None:
        self._line(f"[bold red]error:[/bold red] {escape(message)}", f"error: {message}")
        if hint:
            self._line(f"[dim]hint:[/dim] {escape(hint)}", f"hint: {hint}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self._line(f"[dim]{escape(message)}[/dim]", message)

    def ansi(self, text: str, *, stderr: bool = True) -> None:
        """Text with ANSI colours (IPython tracebacks): kept on a colour terminal, stripped elsewhere."""
        if not self._terminal(stderr):
            self.stream(ANSI.sub("", text) + "\n", stderr=stderr)
            return
        from rich.text import Text

        self._console(stderr).print(Text.from_ansi(text))

    def stream(self, text: str, *, stderr: bool = False) -> None:
        """Text exactly as a program produced it (the user's code's stdout/stderr, a token): no markup, no wrap."""
        target = self.env.stderr if stderr else self.env.stdout
        target.write(text)
        target.flush()

    @property
    def interactive(self) -> bool:
        return self._terminal(stderr=True) and not self.quiet

    @property
    def console(self) -> Console:
        """The stderr console, for live views (step tables, progress) that must share it with status lines."""
        return self._console(stderr=True)

    # data, to stdout
    def data(self, payload: Any, human: str | None = None) -> None:
        """Emit a result: JSON in --json mode, else the human line (if any)."""
        if self.json_mode:
            self.stream(json.dumps(payload, indent=2, default=str) + "\n")
        elif human is not None:
            self._line(escape(human), human, stderr=False)

    def text(self, text: str) -> None:
        """Data that is already text (YAML, a schema, a result's repr): printed whole, never as markup."""
        if self._terminal(stderr=False):
            self._console(stderr=False).print(text, markup=False, highlight=False)
        else:
            self.stream(text + "\n")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None,
              *, whole: Sequence[str] = ()) -> None:
        """A table on stdout; columns named in `whole` (URLs, ids users copy) are never cut or wrapped: on a
        narrow terminal the table is laid out wider than the screen (the terminal wraps the line, as kubectl's)."""
        from rich.table import Table

        table = Table(title=title, box=None, header_style="bold", pad_edge=False)
        for column in columns:
            keep = column in whole
            table.add_column(column, no_wrap=keep, overflow="ignore" if keep else "fold")
        for row in rows:
            table.add_row(*(escape("" if v is None else str(v)) for v in row))
        natural = sum(max(len("" if r[i] is None else str(r[i])) for r in [columns, *rows]) for i in range(len(columns)))
        needed = natural + 2 * len(columns) if whole else 0  # every column at its width, and the gaps
        console = self._console(stderr=False)
        width = console.width
        console.width = max(width, needed)  # print(width=) is capped at the console's width
        try:
            console.print(table, crop=False)
        finally:
            console.width = width

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
            console=self.console,
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
