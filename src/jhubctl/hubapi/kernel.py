"""Running code in a Jupyter kernel over the server's websocket (the kernel protocol, JSON framing).

Outputs are collected as nbformat output dicts from the start, so the same objects go to the caller and
into the notebook. On timeout the kernel is interrupted through the REST API and its reply awaited, so
the next execution finds an idle kernel instead of a queue behind runaway code.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from .client import HubError

#: Seconds to wait for the kernel to acknowledge an interrupt before declaring it wedged.
INTERRUPT_GRACE = 15.0


@dataclass
class Execution:
    status: str  # ok | error | timeout
    execution_count: int | None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def stdout(self) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == "stderr")


def _message(session: str, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "jhubctl",
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": "shell",
        "buffers": [],
    }


def execute_request(session: str, code: str) -> dict[str, Any]:
    return _message(
        session,
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )


class _Collector:
    """Folds iopub messages into nbformat outputs (consecutive stream chunks merged, clear_output honoured)."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.error: dict[str, Any] | None = None
        self.execution_count: int | None = None
        self._clear_on_next = False

    def _add(self, output: dict[str, Any]) -> None:
        if self._clear_on_next:
            self.outputs.clear()
            self._clear_on_next = False
        self.outputs.append(output)

    def feed(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "execute_input":
            self.execution_count = content.get("execution_count")
        elif msg_type == "stream":
            last = self.outputs[-1] if self.outputs and not self._clear_on_next else None
            if last and last["output_type"] == "stream" and last["name"] == content["name"]:
                last["text"] += content["text"]
            else:
                self._add({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif msg_type in ("display_data", "execute_result"):
            output = {"output_type": msg_type, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if msg_type == "execute_result":
                output["execution_count"] = content.get("execution_count")
            self._add(output)
        elif msg_type == "error":
            self.error = {k: content.get(k) for k in ("ename", "evalue", "traceback")}
            self._add({"output_type": "error", **self.error})
        elif msg_type == "clear_output":
            if content.get("wait"):
                self._clear_on_next = True
            else:
                self.outputs.clear()


class KernelChannel:
    """One websocket to one kernel. `interrupt` is injected (a REST call) to keep this class free of HTTP."""

    def __init__(self, ws_url: str, token: str, interrupt: Callable[[], None], *, open_timeout: float = 30.0):
        self.session = uuid.uuid4().hex
        self._interrupt = interrupt
        self._stack = ExitStack()  # websockets wants connect() used as a context manager
        try:
            self.ws: ClientConnection = self._stack.enter_context(
                connect(
                    f"{ws_url}?session_id={self.session}",
                    additional_headers={"Authorization": f"token {token}"},
                    open_timeout=open_timeout,
                    max_size=None,
                )
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise HubError(f"cannot open the kernel websocket ({type(exc).__name__}: {exc})") from None

    def close(self) -> None:
        self._stack.close()

    def execute(self, code: str, timeout: float) -> Execution:
        began = time.monotonic()
        request = execute_request(self.session, code)
        msg_id = request["header"]["msg_id"]
        self.ws.send(json.dumps(request))
        collector = _Collector()
        reply: dict[str, Any] | None = None
        idle = False
        timed_out = False
        deadline = began + timeout
        while reply is None or not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if timed_out:
                    raise HubError("the kernel did not answer an interrupt; restart it (stop-server, then exec again)")
                timed_out = True
                self._interrupt()
                deadline = time.monotonic() + INTERRUPT_GRACE
                continue
            try:
                raw = self.ws.recv(timeout=remaining)
            except TimeoutError:
                continue
            except WebSocketException as exc:
                raise HubError(f"the kernel websocket closed during execution ({exc})") from None
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            msg_type = msg["header"]["msg_type"]
            if msg.get("channel") == "shell" and msg_type == "execute_reply":
                reply = msg["content"]
            elif msg.get("channel") == "iopub":
                if msg_type == "status":
                    idle = msg["content"].get("execution_state") == "idle"
                else:
                    collector.feed(msg_type, msg["content"])
        count = reply.get("execution_count", collector.execution_count)
        for output in collector.outputs:
            if output["output_type"] == "execute_result" and output.get("execution_count") is None:
                output["execution_count"] = count
        status = "timeout" if timed_out else ("ok" if reply.get("status") == "ok" else "error")
        error = collector.error
        if status == "error" and error is None:
            error = {k: reply.get(k) for k in ("ename", "evalue", "traceback")}
        return Execution(status, count, collector.outputs, error, time.monotonic() - began)
