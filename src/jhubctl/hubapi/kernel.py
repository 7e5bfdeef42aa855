"""Running code in a Jupyter kernel over the server's websocket (the kernel protocol, JSON framing).

Outputs are collected as nbformat output dicts from the start, so the same objects go to the caller and
into the notebook. On timeout or Ctrl-C the kernel is interrupted through the REST API and its reply
awaited, so the next execution finds an idle kernel instead of a queue behind runaway code. A kernel that
dies is seen from the server's `restarting`/`dead` status at once, not after the timeout.
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

#: How an execution ended, most telling first when several apply. `died`: the kernel process exited and
#: the server restarted it (variables are lost); `output_dropped`: the server's IOPub rate limit dropped
#: output, so what was collected is incomplete.
STATUSES = ("died", "interrupted", "timeout", "error", "output_dropped", "ok")

#: What jupyter-server writes to the cell's stderr when its IOPub rate limit drops output.
RATE_LIMIT_NOTICES = ("IOPub data rate exceeded.", "IOPub message rate exceeded.")

#: The kernel's lifecycle states (iopub `status`, sent without a parent) that end any execution.
DEATH_STATES = {
    "restarting": "the kernel died while running this cell and was restarted: its variables are lost",
    "dead": "the kernel died while running this cell and could not be restarted",
}


@dataclass
class Execution:
    status: str  # one of STATUSES
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
        self.dropped = False  # the server's rate limit dropped some output
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
            if content["name"] == "stderr" and content["text"].startswith(RATE_LIMIT_NOTICES):
                self.dropped = True
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
    """One websocket to one kernel. `interrupt` is injected (a REST call) to keep this class free of HTTP,
    and so is `connect` (websockets' own by default), so tests can put a scripted kernel behind it."""

    def __init__(self, ws_url: str, token: str, interrupt: Callable[[], None], *, open_timeout: float = 30.0,
                 connect: Callable[..., Any] = connect):
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

    def _interrupt_within(self, grace: float) -> float:
        self._interrupt()
        return time.monotonic() + grace

    def execute(self, code: str, timeout: float) -> Execution:
        """Run `code`; after `timeout` s, or on Ctrl-C (KeyboardInterrupt), interrupt the kernel and collect
        what it sends until it is idle, so the cell can still be recorded. A second Ctrl-C gives up."""
        began = time.monotonic()
        request = execute_request(self.session, code)
        msg_id = request["header"]["msg_id"]
        self.ws.send(json.dumps(request))
        collector = _Collector()
        reply: dict[str, Any] | None = None
        idle = False
        cause: str | None = None  # timeout | interrupted: why the kernel was interrupted
        death: str | None = None
        deadline = began + timeout
        while (reply is None or not idle) and death is None:
            try:
                msg = self._receive(deadline)
            except KeyboardInterrupt:
                if cause is not None:
                    raise
                cause, deadline = "interrupted", self._interrupt_within(INTERRUPT_GRACE)
                continue
            if msg is None:
                if cause is not None:
                    raise HubError("the kernel did not answer an interrupt; restart it (stop-server, then exec again)")
                cause, deadline = "timeout", self._interrupt_within(INTERRUPT_GRACE)
                continue
            msg_type = msg["header"]["msg_type"]
            if msg.get("channel") == "iopub" and msg_type == "status":
                state = msg["content"].get("execution_state")
                if state in DEATH_STATES:  # the server's own message, with no parent: the kernel is gone
                    death = state
                elif msg.get("parent_header", {}).get("msg_id") == msg_id:
                    idle = state == "idle"
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg.get("channel") == "shell" and msg_type == "execute_reply":
                reply = msg["content"]
            elif msg.get("channel") == "iopub":
                collector.feed(msg_type, msg["content"])
        return self._result(collector, reply or {}, cause, death, time.monotonic() - began)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or None once `deadline` has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            raw = self.ws.recv(timeout=remaining)
        except TimeoutError:
            return None
        except WebSocketException as exc:
            raise HubError(f"the kernel websocket closed during execution ({exc})") from None
        return json.loads(raw)

    @staticmethod
    def _result(collector: _Collector, reply: dict[str, Any], cause: str | None, death: str | None,
                seconds: float) -> Execution:
        count = reply.get("execution_count", collector.execution_count)
        for output in collector.outputs:
            if output["output_type"] == "execute_result" and output.get("execution_count") is None:
                output["execution_count"] = count
        error = collector.error
        if death is not None:
            error = {"ename": "KernelDied", "evalue": DEATH_STATES[death], "traceback": [f"KernelDied: {DEATH_STATES[death]}"]}
            collector.outputs.append({"output_type": "error", **error})
            status = "died"
        elif cause is not None:
            status = cause
        elif reply.get("status") not in (None, "ok"):
            status = "error"
        else:
            status = "output_dropped" if collector.dropped else "ok"
        if status == "error" and error is None:
            error = {k: reply.get(k) for k in ("ename", "evalue", "traceback")}
        return Execution(status, count, collector.outputs, error, seconds)
