"""How kernel messages become nbformat outputs, and what an execute_request looks like on the wire."""

from __future__ import annotations

import json

import nbformat
import pytest

from jhubctl.hubapi.kernel import Execution, _Collector, execute_request


def collect(*messages: tuple[str, dict]) -> _Collector:
    collector = _Collector()
    for msg_type, content in messages:
        collector.feed(msg_type, content)
    return collector


def stream(name: str, text: str) -> tuple[str, dict]:
    return "stream", {"name": name, "text": text}


def test_consecutive_stream_chunks_merge() -> None:
    c = collect(stream("stdout", "1\n"), stream("stdout", "2\n"), stream("stdout", "3"))
    assert c.outputs == [{"output_type": "stream", "name": "stdout", "text": "1\n2\n3"}]


def test_interleaved_stdout_and_stderr_stay_separate_and_ordered() -> None:
    c = collect(stream("stdout", "a"), stream("stderr", "warn"), stream("stdout", "b"), stream("stdout", "c"))
    assert [(o["name"], o["text"]) for o in c.outputs] == [("stdout", "a"), ("stderr", "warn"), ("stdout", "bc")]
    run = Execution("ok", 1, c.outputs)
    assert run.stdout == "abc"
    assert run.stderr == "warn"


def test_streams_do_not_merge_across_other_outputs() -> None:
    c = collect(
        stream("stdout", "before"),
        ("display_data", {"data": {"text/plain": "<Figure>"}, "metadata": {}}),
        stream("stdout", "after"),
    )
    assert [o["output_type"] for o in c.outputs] == ["stream", "display_data", "stream"]
    assert c.outputs[2]["text"] == "after"


def test_clear_output_wait_clears_on_next_output() -> None:
    c = collect(stream("stdout", "10%"), ("clear_output", {"wait": True}))
    assert c.outputs == [{"output_type": "stream", "name": "stdout", "text": "10%"}]  # nothing cleared yet
    c.feed("stream", {"name": "stdout", "text": "20%"})
    assert c.outputs == [{"output_type": "stream", "name": "stdout", "text": "20%"}]  # replaced, not appended


def test_clear_output_wait_then_display_data() -> None:
    c = collect(
        ("display_data", {"data": {"text/plain": "frame 1"}, "metadata": {}}),
        ("clear_output", {"wait": True}),
        ("display_data", {"data": {"text/plain": "frame 2"}, "metadata": {}}),
    )
    assert [o["data"]["text/plain"] for o in c.outputs] == ["frame 2"]


def test_clear_output_without_wait_clears_now() -> None:
    c = collect(stream("stdout", "x"), ("clear_output", {"wait": False}))
    assert c.outputs == []
    c.feed("stream", {"name": "stdout", "text": "y"})
    assert c.outputs == [{"output_type": "stream", "name": "stdout", "text": "y"}]


def test_execute_result_keeps_data_metadata_and_count() -> None:
    data = {"text/plain": "42", "text/html": "<b>42</b>"}
    metadata = {"text/html": {"isolated": True}}
    c = collect(
        ("execute_input", {"code": "6*7", "execution_count": 3}),
        ("execute_result", {"data": data, "metadata": metadata, "execution_count": 3}),
    )
    assert c.execution_count == 3
    assert c.outputs == [{"output_type": "execute_result", "data": data, "metadata": metadata, "execution_count": 3}]


def test_display_data_image_is_kept_as_sent() -> None:
    png = "iVBORw0KGgo="
    c = collect(("display_data", {"data": {"image/png": png, "text/plain": "<Figure>"}, "metadata": {}}))
    assert c.outputs[0]["data"]["image/png"] == png


def test_error_is_recorded_and_output() -> None:
    tb = ["\x1b[0;31mZeroDivisionError\x1b[0m", "division by zero"]
    c = collect(stream("stdout", "start\n"), ("error", {"ename": "ZeroDivisionError", "evalue": "division by zero",
                                                       "traceback": tb}))
    assert c.error == {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": tb}
    assert c.outputs[-1] == {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                             "traceback": tb}


def test_collected_outputs_are_valid_nbformat() -> None:
    c = collect(
        ("execute_input", {"execution_count": 1}),
        stream("stdout", "hi\n"),
        stream("stderr", "careful\n"),
        ("display_data", {"data": {"text/plain": "<Figure>"}, "metadata": {}}),
        ("execute_result", {"data": {"text/plain": "1"}, "metadata": {}, "execution_count": 1}),
        ("error", {"ename": "E", "evalue": "v", "traceback": ["E: v"]}),
    )
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x", execution_count=1, outputs=c.outputs))
    nbformat.validate(nbformat.from_dict(json.loads(json.dumps(nb))))


def test_unknown_messages_are_ignored() -> None:
    c = collect(("comm_open", {"comm_id": "x"}), ("update_display_data", {"data": {}}))
    assert c.outputs == [] and c.error is None


# --- execute_request ------------------------------------------------------------------------------


def test_execute_request_shape() -> None:
    msg = execute_request("session-1", "print(1)")
    header = msg["header"]
    assert header["msg_type"] == "execute_request"
    assert header["session"] == "session-1"
    assert header["version"].startswith("5.")
    assert header["msg_id"] and header["username"] and header["date"]
    assert msg["channel"] == "shell"
    assert msg["parent_header"] == {}
    assert msg["metadata"] == {}
    content = msg["content"]
    assert set(content) >= {"code", "silent", "store_history", "user_expressions", "allow_stdin", "stop_on_error"}
    assert content["code"] == "print(1)"
    assert content["allow_stdin"] is False  # input() must fail fast instead of hanging the call
    assert content["silent"] is False
    assert content["store_history"] is True
    json.dumps(msg)  # it goes over the websocket as JSON


def test_execute_request_ids_are_unique() -> None:
    ids = {execute_request("s", "1")["header"]["msg_id"] for _ in range(100)}
    assert len(ids) == 100


@pytest.mark.parametrize("code", ["", "x = '\\u00e9'\nprint(x)", "\t" * 3 + "pass"])
def test_execute_request_keeps_code_verbatim(code: str) -> None:
    assert json.loads(json.dumps(execute_request("s", code)))["content"]["code"] == code
