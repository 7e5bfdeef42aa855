"""One user's conversations as an assistant's tools see them: warm kernels, files, and text for a model.

Both the LangChain tools and the MCP server sit on this, so a model gets the same environment, the same
limits and the same words through either. Calls for one conversation are serialised (one kernel
websocket each); different conversations run side by side.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import JhubctlError, UsageError
from ..hubapi.contents import clean_path
from ..interpreter import Interpreter, Result, interpreter_for, validate

if TYPE_CHECKING:
    from ..config import ServersConfig
    from ..hubapi.client import HubClient
    from ..hubapi.contents import Entry

#: Longest traceback (lines) a model is shown: the end of a Python traceback says what went wrong.
TRACEBACK_LINES = 12
#: Largest file `read_file` hands to a model; bigger files are for `files get`.
READ_LIMIT = 1024 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@contextmanager
def tool_errors(kind: type[Exception]) -> Iterator[None]:
    """Our errors reach the model as the framework's tool error (`kind`), one line and the hint, not as a
    crash; both integrations raise them this way."""
    try:
        yield
    except JhubctlError as exc:
        raise kind(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None


def environment(servers: ServersConfig) -> str:
    """What a model must know about the place its code runs; the start of every tool description."""
    return (
        "Python code runs in a Jupyter kernel (IPython) on a JupyterHub server that belongs to this user and "
        "conversation. The kernel is stateful: variables, imports and function definitions persist between "
        "calls of the same conversation until the server is stopped. The working directory is the "
        f"conversation's own folder (mounted at {servers.mount_path} on the cluster); files written there persist "
        "across calls and server restarts, and every other tool's paths are relative to it. Each call may run "
        f"at most {servers.exec_timeout:g} s by default; longer code is interrupted (the kernel and its variables "
        f"survive). Files moved by the tools are limited to {servers.max_file_bytes // 1048576} MiB. Every "
        f"execution is appended to the notebook {servers.notebook_name.format(conversation='<conversation>')} in "
        "that folder. Matplotlib figures are returned as images."
    )


def short_traceback(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    lines = _ANSI.sub("", "\n".join(error.get("traceback") or [])).splitlines()
    tail = lines[-TRACEBACK_LINES:]
    head = f"{error.get('ename')}: {error.get('evalue')}"
    return "\n".join(([f"... ({len(lines) - len(tail)} traceback lines omitted)"] if len(tail) < len(lines) else [])
                     + tail) or head


def result_value(result: Result) -> str:
    """The text/plain of the cell's result (what the last expression evaluated to), if any."""
    for output in result.outputs:
        if output["output_type"] == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            return text if isinstance(text, str) else "".join(text)
    return ""


def images(result: Result) -> list[tuple[str, str]]:
    """(mimetype, base64 data) of every raster image the run displayed."""
    found = []
    for output in result.outputs:
        for mimetype, data in (output.get("data") or {}).items():
            if mimetype in ("image/png", "image/jpeg", "image/gif", "image/webp"):
                found.append((mimetype, data if isinstance(data, str) else "".join(data)))
    return found


@dataclass
class Run:
    """An execution with what a model needs besides the outputs: the files it produced."""

    result: Result
    files: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Plain text for a model: status, stdout, stderr, the result, a short traceback, produced files."""
        r = self.result
        parts = [f"status: {r.status} (execution {r.execution_count}, {r.seconds:.2f} s)"]
        if r.status == "timeout":
            parts.append("the code ran past its time limit and was interrupted; the kernel and its variables "
                         "are still there")
        if r.stdout:
            parts.append(f"stdout:\n{r.stdout.rstrip()}")
        if r.stderr:
            parts.append(f"stderr:\n{r.stderr.rstrip()}")
        value = result_value(r)
        if value:
            parts.append(f"result:\n{value}")
        if r.error:
            parts.append(f"error: {r.error.get('ename')}: {r.error.get('evalue')}\n{short_traceback(r.error)}")
        shown = len(images(r))
        if shown:
            parts.append(f"{shown} image(s) displayed")
        if self.files:
            parts.append("files produced or changed: " + ", ".join(self.files))
        parts.append(f"notebook: {r.notebook}")
        return "\n\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "status": r.status, "execution_count": r.execution_count, "stdout": r.stdout, "stderr": r.stderr,
            "result": result_value(r), "error": ({"ename": r.error.get("ename"), "evalue": r.error.get("evalue"),
                                                  "traceback": short_traceback(r.error)} if r.error else None),
            "files": self.files, "notebook": r.notebook, "seconds": round(r.seconds, 3),
        }


class Session:
    """The conversations of one user, each with a warm Interpreter, through one hub client."""

    def __init__(self, hub: HubClient, user: str, servers: ServersConfig | None = None):
        from ..config import ServersConfig

        self.user, _ = validate(user, "x")
        self.hub = hub
        self.servers = servers or ServersConfig()
        self._interpreters: dict[str, Interpreter] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._snapshots: dict[str, dict[str, str | None]] = {}
        self._guard = threading.Lock()

    def conversation(self, conversation: str) -> tuple[Interpreter, threading.Lock]:
        _, conversation = validate(self.user, conversation)
        with self._guard:
            if conversation not in self._interpreters:
                self._interpreters[conversation] = interpreter_for(self.hub, self.servers, self.user, conversation)
                self._locks[conversation] = threading.Lock()
            return self._interpreters[conversation], self._locks[conversation]

    def run(self, conversation: str, code: str, timeout: float | None = None, *, files: bool = True) -> Run:
        """Execute; with `files`, also name the files the code produced (one more request: a folder listing)."""
        it, lock = self.conversation(conversation)
        with lock:
            result = it.execute(code, timeout or self.servers.exec_timeout)
            return Run(result, self._changed(it) if files else [])

    def _changed(self, it: Interpreter) -> list[str]:
        """Top-level files new or modified since the last look (the notebook itself left out)."""
        now = {e.path: e.last_modified for e in it.list_files() if e.type != "directory" and e.path != it.notebook}
        before = self._snapshots.get(it.conversation)
        self._snapshots[it.conversation] = now
        if before is None:
            return []
        return sorted(path for path, stamp in now.items() if before.get(path) != stamp)

    def list_files(self, conversation: str, path: str = "") -> list[Entry]:
        it, lock = self.conversation(conversation)
        with lock:
            return it.list_files(path)

    def read_file(self, conversation: str, path: str, limit: int = READ_LIMIT) -> bytes:
        """A file's bytes, if it is small enough to hand to a model."""
        it, lock = self.conversation(conversation)
        with lock:
            model = it.files().model(clean_path(path))
            if model is not None and (model.get("size") or 0) > limit:
                raise UsageError(f"{path} has {model['size']} bytes, more than the {limit} a model is given",
                                 hint="read a part of it with code, or fetch it with `jhubctl files get`")
            return it.download(path)

    def write_file(self, conversation: str, path: str, data: bytes, *, overwrite: bool = True) -> Entry:
        it, lock = self.conversation(conversation)
        with lock:
            return it.upload(path, data, overwrite=overwrite)

    def stop_server(self, conversation: str) -> bool:
        it, lock = self.conversation(conversation)
        with lock, self._guard:
            it.close()
            self._interpreters.pop(it.conversation, None)
            self._snapshots.pop(it.conversation, None)
            return self.hub.stop_server(self.user, it.conversation)

    def rebind(self, hub: HubClient) -> None:
        """Use another hub client (a renewed token) from now on; kernels keep running on the servers."""
        self.close()
        self.hub = hub

    def close(self) -> None:
        with self._guard:
            interpreters, self._interpreters = list(self._interpreters.values()), {}
            self._snapshots.clear()
        for it in interpreters:
            it.close()
