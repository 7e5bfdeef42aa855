"""How an execution ends, against a scripted kernel channel: the messages are the ones jupyter-server sends.

The real hub tests (tests/hub/test_crash.py) kill real kernels; these cover what is hard to provoke there:
a kernel that cannot be restarted, the message-rate notice, a second Ctrl-C.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from jhubctl.hubapi.client import HubError
from jhubctl.hubapi.kernel import KernelChannel

Script = Callable[[dict[str, Any]], list[Any]]


def msg(msg_type: str, content: dict[str, Any], parent: str | None, channel: str = "iopub") -> dict[str, Any]:
    return {"header": {"msg_type": msg_type, "msg_id": "m"}, "parent_header": {"msg_id": parent} if parent else {},
            "channel": channel, "content": content, "metadata": {}}


def status(state: str, parent: str | None) -> dict[str, Any]:
    return msg("status", {"execution_state": state}, parent)


def finished(parent: str, count: int = 1, reply: str = "ok") -> list[dict[str, Any]]:
    return [msg("execute_input", {"execution_count": count}, parent),
            msg("execute_reply", {"status": reply, "execution_count": count}, parent, "shell"),
            status("idle", parent)]


class FakeKernel:
    """A websocket with a script: each request gets the messages `script(request)` returns, in order.
    An item that is an exception is raised from recv() (a Ctrl-C, a closed socket); None is silence."""

    def __init__(self, script: Script):
        self.script = script
        self.sent: list[dict[str, Any]] = []
        self.queue: list[Any] = []
        self.interrupts = 0

    def send(self, raw: str) -> None:
        request = json.loads(raw)
        self.sent.append(request)
        self.queue.extend(self.script(request))

    def recv(self, timeout: float | None = None) -> str:
        if not self.queue:
            raise TimeoutError
        item = self.queue.pop(0)
        if item is None:
            raise TimeoutError
        if isinstance(item, BaseException):
            raise item
        return json.dumps(item)

    def interrupt(self) -> None:
        self.interrupts += 1
        parent = self.sent[-1]["header"]["msg_id"]
        self.queue[:] = [msg("error", {"ename": "KeyboardInterrupt", "evalue": "", "traceback": ["KeyboardInterrupt"]},
                             parent), *finished(parent, reply="error")]

    def channel(self) -> KernelChannel:
        @contextmanager
        def connect(url: str, **kwargs: Any) -> Iterator[FakeKernel]:
            yield self

        return KernelChannel("ws://kernel/channels", "t0ken", self.interrupt, connect=connect)


def run(script: Script, timeout: float = 5.0) -> tuple[Any, FakeKernel]:
    kernel = FakeKernel(script)
    return kernel.channel().execute("code", timeout), kernel


def test_a_normal_execution_is_ok() -> None:
    result, kernel = run(lambda r: [status("busy", r["header"]["msg_id"]),
                                    msg("stream", {"name": "stdout", "text": "42\n"}, r["header"]["msg_id"]),
                                    *finished(r["header"]["msg_id"], 3)])
    assert (result.status, result.stdout, result.execution_count, kernel.interrupts) == ("ok", "42\n", 3, 0)


@pytest.mark.parametrize(("state", "says"), [("restarting", "was restarted"), ("dead", "could not be restarted")])
def test_the_servers_restarting_or_dead_status_ends_the_execution_as_died(state: str, says: str) -> None:
    """jupyter-server sends these with no parent: they must not be filtered out like other kernels' chatter."""
    def script(r: dict[str, Any]) -> list[Any]:
        parent = r["header"]["msg_id"]
        return [status("busy", parent), msg("execute_input", {"execution_count": 4}, parent),
                msg("stream", {"name": "stdout", "text": "before\n"}, parent), status(state, None)]

    result, kernel = run(script, timeout=60)
    assert result.status == "died" and kernel.interrupts == 0
    assert result.execution_count == 4 and result.stdout == "before\n"
    assert result.error["ename"] == "KernelDied" and says in result.error["evalue"]
    assert "variables" in result.error["evalue"] or state == "dead"
    assert result.outputs[-1] == {"output_type": "error", **result.error}  # so the notebook records it


def test_other_parents_status_messages_do_not_end_the_execution() -> None:
    result, _ = run(lambda r: [status("busy", "someone-else"), status("idle", "someone-else"),
                               status("starting", None), *finished(r["header"]["msg_id"])])
    assert result.status == "ok"


def test_ctrl_c_interrupts_the_kernel_and_collects_the_interrupted_cell() -> None:
    result, kernel = run(lambda r: [status("busy", r["header"]["msg_id"]), KeyboardInterrupt()])
    assert kernel.interrupts == 1
    assert result.status == "interrupted" and result.error["ename"] == "KeyboardInterrupt"


def test_a_second_ctrl_c_gives_up_waiting() -> None:
    kernel = FakeKernel(lambda r: [KeyboardInterrupt()])
    kernel.interrupt = lambda: kernel.queue.append(KeyboardInterrupt())  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        kernel.channel().execute("code", 5)


def test_a_timeout_interrupts_and_reports_timeout() -> None:
    result, kernel = run(lambda r: [status("busy", r["header"]["msg_id"]), None], timeout=0.2)
    assert kernel.interrupts == 1 and result.status == "timeout"


def test_a_kernel_that_ignores_the_interrupt_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jhubctl.hubapi.kernel.INTERRUPT_GRACE", 0.1)
    kernel = FakeKernel(lambda r: [None])
    kernel.interrupt = lambda: None  # type: ignore[method-assign]
    with pytest.raises(HubError, match="did not answer an interrupt"):
        kernel.channel().execute("code", 0.1)


@pytest.mark.parametrize("notice", ["IOPub data rate exceeded.\nThe Jupyter server will temporarily stop",
                                    "IOPub message rate exceeded.\nThe Jupyter server will temporarily stop"])
def test_the_servers_rate_limit_notice_makes_output_dropped(notice: str) -> None:
    result, _ = run(lambda r: [msg("stream", {"name": "stdout", "text": "x" * 100}, r["header"]["msg_id"]),
                               msg("stream", {"name": "stderr", "text": notice}, r["header"]["msg_id"]),
                               *finished(r["header"]["msg_id"])])
    assert result.status == "output_dropped" and notice in result.stderr


def test_the_same_words_printed_by_the_code_to_stdout_are_not_a_notice() -> None:
    result, _ = run(lambda r: [msg("stream", {"name": "stdout", "text": "IOPub data rate exceeded."}, r["header"]["msg_id"]),
                               *finished(r["header"]["msg_id"])])
    assert result.status == "ok"


def test_an_error_wins_over_dropped_output() -> None:
    def script(r: dict[str, Any]) -> list[Any]:
        parent = r["header"]["msg_id"]
        return [msg("stream", {"name": "stderr", "text": "IOPub data rate exceeded.\n"}, parent),
                msg("error", {"ename": "ValueError", "evalue": "v", "traceback": []}, parent),
                *finished(parent, reply="error")]

    assert run(script)[0].status == "error"


def test_a_closed_websocket_is_a_hub_error() -> None:
    from websockets.exceptions import ConnectionClosedError

    with pytest.raises(HubError, match="closed during execution"):
        run(lambda r: [ConnectionClosedError(None, None)])
