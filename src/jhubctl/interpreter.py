"""The code-interpreter tool as a library: what an assistant calls, with or without the CLI.

    from jhubctl.hubapi.client import HubClient
    from jhubctl.interpreter import Interpreter
    with HubClient(hub_url, token) as hub, Interpreter(hub, "alice", "c-42") as it:
        result = it.execute("print(1 + 1)", timeout=30)

Names are validated by the same functions the hub's spawner uses, before any request, so a bad id costs
no failed spawn (five in a row make the chart's hub exit). The server is a named server per
conversation; the kernel session is keyed by the conversation's notebook, so it survives between calls.

The notebook is saved on a single background thread, in order: `execute` returns as soon as the kernel
has answered (the assistant is waiting), and `flush()` / `close()` wait for the saves and raise the
first that failed, so a lost cell is never silent.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .hubapi.client import HubClient, ProgressCallback, StartResult
from .hubapi.contents import MAX_FILE_BYTES, Contents, Entry, TransferCallback, clean_path
from .hubapi.kernel import Execution, KernelChannel
from .hubapi.notebook import append_cell, code_cell
from .hubapi.server import ServerClient
from .spawner.naming import InvalidName, conversation_subpath, normalize_conversation, normalize_user
from .state import ensure_private_dir

#: Bytes of output one notebook cell keeps by default (servers.cell_output_limit).
CELL_OUTPUT_LIMIT = 5_000_000

if TYPE_CHECKING:
    from .config import ServersConfig
    from .config_file import Values


def validate(user: str, conversation: str) -> tuple[str, str]:
    """Normalised (user, conversation), or a usage error naming the bad field."""
    try:
        return normalize_user(user), normalize_conversation(conversation)
    except InvalidName as exc:
        raise UsageError(str(exc)) from None


#: The notebook executions are appended to (config `servers.notebook_name`); the guide's client writes the same.
DEFAULT_NOTEBOOK_NAME = "{conversation}.ipynb"


def notebook_path(conversation: str, template: str = DEFAULT_NOTEBOOK_NAME) -> str:
    return template.format(conversation=conversation)


@dataclass
class Result:
    """An execution as callers see it; `outputs` are nbformat outputs (image data base64 as Jupyter sends it).

    `status` is one of `hubapi.kernel.STATUSES`. `notebook` is the notebook's path inside the conversation's
    folder (what the server's contents API takes); `folder` is that folder inside the data root, the same
    on every target (`<user>/conversations/<conversation>`).
    """

    user: str
    conversation: str
    status: str
    execution_count: int | None
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]]
    error: dict[str, Any] | None
    notebook: str
    folder: str
    seconds: float
    files: list[str] = field(default_factory=list)

    def as_dict(self, *, colour: bool = True) -> dict[str, Any]:
        """A plain dict; `colour=False` strips the ANSI colours IPython puts in tracebacks (for JSON readers)."""
        data = dict(vars(self))
        if not colour:
            data["outputs"] = [_plain(o) for o in self.outputs]
            data["error"] = _plain(self.error) if self.error else None
        return data

    def save_images(self, directory: Path) -> list[Path]:
        """Write every image output to a new file (owner-only), so a terminal user or an assistant can hand it on.

        Execution counts start again at 1 when a kernel restarts, so names carry a random part too, and a
        file is only ever created, never overwritten.
        """
        written: list[Path] = []
        stamp = secrets.token_hex(4)
        for index, output in enumerate(self.outputs):
            for mimetype, data in (output.get("data") or {}).items():
                if not mimetype.startswith("image/"):
                    continue
                ext = mimetype.split("/", 1)[1].split("+", 1)[0]
                if mimetype == "image/svg+xml":
                    content = (data if isinstance(data, str) else "".join(data)).encode()
                else:
                    content = base64.b64decode(data)
                ensure_private_dir(directory)
                written.append(_create(directory, f"{self.conversation}-{self.execution_count}-{index}-{stamp}", ext, content))
        self.files = [str(p) for p in written]
        return written


def interpreter_for(hub: HubClient, servers: ServersConfig | Values, user: str, conversation: str) -> Interpreter:
    """An Interpreter with the config's timeouts, notebook name and limits: what every command uses (the CLI
    passes the cached values, `Loaded.values.servers`, the library the model's section)."""
    return Interpreter(
        hub, user, conversation, start_timeout=servers.start_timeout, idle_timeout=servers.progress_idle_timeout,
        notebook_name=servers.notebook_name, max_file_bytes=servers.max_file_bytes,
        cell_output_limit=servers.cell_output_limit,
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _plain(output: dict[str, Any]) -> dict[str, Any]:
    if "traceback" not in output:
        return output
    return {**output, "traceback": [_ANSI.sub("", line) for line in output["traceback"] or []]}


def _create(directory: Path, stem: str, ext: str, content: bytes) -> Path:
    """A new file `<stem>.<ext>` (or `<stem>-2.<ext>`, ...): O_EXCL, so an existing file is never replaced."""
    for attempt in range(1, 100):
        path = directory / (f"{stem}.{ext}" if attempt == 1 else f"{stem}-{attempt}.{ext}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        return path
    raise FileExistsError(f"no free name for {stem}.{ext} in {directory}")


class Interpreter:
    def __init__(
        self,
        hub: HubClient,
        user: str,
        conversation: str,
        *,
        start_timeout: float = 300.0,
        idle_timeout: float = 120.0,
        notebook_name: str = DEFAULT_NOTEBOOK_NAME,
        max_file_bytes: int = MAX_FILE_BYTES,
        cell_output_limit: int = CELL_OUTPUT_LIMIT,
    ):
        self.user, self.conversation = validate(user, conversation)
        self.hub = hub
        self.start_timeout = start_timeout
        self.idle_timeout = idle_timeout
        self.cell_output_limit = cell_output_limit
        self.notebook = notebook_path(self.conversation, notebook_name)
        self.max_file_bytes = max_file_bytes
        self._contents: Contents | None = None
        self._server: ServerClient | None = None
        self._kernel: KernelChannel | None = None
        self._kernel_id: str | None = None
        self._saver: ThreadPoolExecutor | None = None
        self._saves: list[Future[None]] = []

    def __enter__(self) -> Interpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self) -> None:
        """Wait for every pending notebook save; raise the first failure."""
        saves, self._saves = self._saves, []
        for save in saves:
            save.result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._saver is not None:
                self._saver.shutdown(wait=True)
                self._saver = None
            if self._kernel is not None:
                self._kernel.close()
                self._kernel = None
            if self._server is not None:
                self._server.close()
                self._server = None
            if self._contents is not None:
                self._contents.server.close()
                self._contents = None

    def start(self, on_progress: ProgressCallback | None = None) -> StartResult:
        """Make sure the user and the conversation's server exist and are ready."""
        self.hub.ensure_user(self.user)
        return self.hub.start_server(
            self.user,
            self.conversation,
            {"conversation_id": self.conversation},
            timeout=self.start_timeout,
            idle_timeout=self.idle_timeout,
            on_progress=on_progress,
        )

    def _connect(self, on_progress: ProgressCallback | None) -> tuple[ServerClient, KernelChannel]:
        """The conversation's kernel channel. A running server is asked first (its URL follows from the
        names): the hub is only needed, to create the user and start the server, when none answers."""
        if self._server is not None and self._kernel is not None:
            return self._server, self._kernel
        server = ServerClient(self.hub.server_url(self.user, self.conversation), self.hub.token, http=self.hub.http)
        sessions = server.sessions()
        if sessions is None:
            self.start(on_progress)
        session = server.kernel_session(self.notebook, sessions=sessions)
        kernel_id = session["kernel"]["id"]
        kernel = KernelChannel(server.kernel_ws_url(kernel_id), self.hub.token, lambda: server.interrupt(kernel_id))
        self._server, self._kernel, self._kernel_id = server, kernel, kernel_id
        return server, kernel

    def execute(self, code: str, timeout: float = 60.0, on_progress: ProgressCallback | None = None) -> Result:
        """Run `code` and append it with its outputs to the conversation's notebook, whatever the outcome:
        a cell that timed out, was interrupted (Ctrl-C) or killed its kernel is recorded with that status."""
        server, kernel = self._connect(on_progress)
        run: Execution = kernel.execute(code, timeout)
        if self._saver is None:
            self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jhubctl-notebook")
        self._saves.append(self._saver.submit(self._save, server, code, run))
        return Result(
            user=self.user,
            conversation=self.conversation,
            status=run.status,
            execution_count=run.execution_count,
            stdout=run.stdout,
            stderr=run.stderr,
            outputs=run.outputs,
            error=run.error,
            notebook=self.notebook,
            folder=conversation_subpath(self.user, self.conversation),
            seconds=run.seconds,
        )

    def _save(self, server: ServerClient, code: str, run: Execution) -> None:
        cell = code_cell(code, run.execution_count, run.outputs, status=run.status, limit=self.cell_output_limit)
        server.put_notebook(self.notebook, append_cell(server.get_notebook(self.notebook), cell))

    # files of the conversation folder (paths relative to it; checked before the server is even started)
    def files(self, on_progress: ProgressCallback | None = None) -> Contents:
        """The conversation folder, through its server's contents API (the server is started if needed)."""
        if self._contents is None:
            started = self.start(on_progress)
            self._contents = Contents(ServerClient(started.server.url, self.hub.token), max_bytes=self.max_file_bytes)
        return self._contents

    def upload(self, path: str, data: bytes | Path, *, overwrite: bool = False,
               on_progress: TransferCallback | None = None) -> Entry:
        """Put `data` (bytes or a local file) at `path` in the conversation folder, byte for byte."""
        path = clean_path(path)
        return self.files().upload(path, data, overwrite=overwrite, on_progress=on_progress)

    def download(self, path: str, on_progress: TransferCallback | None = None) -> bytes:
        path = clean_path(path)
        return self.files().download(path, on_progress)

    def list_files(self, path: str = "") -> list[Entry]:
        path = clean_path(path, root_ok=True)
        return self.files().list(path)

    def remove(self, path: str) -> None:
        path = clean_path(path)
        self.files().remove(path)
