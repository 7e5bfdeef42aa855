"""The LangChain tools invoked directly (no LLM), sync and async, against the real hub."""

from __future__ import annotations

import asyncio
import base64

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import ToolMessage  # noqa: E402

from jhubctl.errors import UsageError  # noqa: E402
from jhubctl.hubapi.tokens import mint_user_token  # noqa: E402
from jhubctl.integrations.langchain import code_interpreter_tools  # noqa: E402
from tests.assistant.conftest import RunningHub  # noqa: E402

pytestmark = pytest.mark.hub


def test_schema_and_description_are_written_for_a_model(running_hub: RunningHub) -> None:
    with running_hub.client() as hub:
        run, files = code_interpreter_tools(hub, "lc_doc", "c1")
    assert run.name == "python" and files.name == "conversation_files"
    assert set(run.args) == {"code", "timeout"} and run.args["code"]["type"] == "string"
    assert {"action", "path", "content", "encoding"} == set(files.args)
    for phrase in ("persist", "interrupted", "<conversation>.ipynb"):
        assert phrase in run.description
    with pytest.raises(UsageError, match="invalid conversation id"):
        code_interpreter_tools(running_hub.client(), "lc_doc", "../x")


def test_sync_calls_keep_state_report_errors_and_time_out(running_hub: RunningHub) -> None:
    with running_hub.client() as hub:
        run, files = code_interpreter_tools(hub, "lc_sync", "c1")
        try:
            out = run.invoke({"code": "total = sum(range(10))\nprint(total)"})
            assert "stdout:\n45" in out and "status: ok" in out
            message = run.invoke({"type": "tool_call", "id": "call-1", "name": "python",
                                  "args": {"code": "total * 2"}})
            assert isinstance(message, ToolMessage) and "result:\n90" in message.content
            assert message.artifact["result"] == "90" and message.artifact["execution_count"] == 2

            failed = run.invoke({"code": "def f():\n    return 1 / 0\nf()"})
            assert "status: error" in failed and "ZeroDivisionError: division by zero" in failed
            assert "\x1b[" not in failed and "f()" in failed  # the short traceback, without colour codes

            slow = run.invoke({"code": "import time\ntime.sleep(30)", "timeout": 1})
            assert "status: timeout" in slow and "interrupted" in slow
            assert "stdout:\n45" in run.invoke({"code": "print(total)"})  # the kernel survived

            assert "wrote data/in.csv" in files.invoke({"action": "write", "path": "data/in.csv", "content": "a\n1\n2\n"})
            produced = run.invoke({"code": "import csv\nrows = list(csv.reader(open('data/in.csv')))\n"
                                           "open('out.txt', 'w').write(str(len(rows)))"})
            assert "files produced or changed: out.txt" in produced
            assert files.invoke({"action": "read", "path": "out.txt"}) == "3"
            listing = files.invoke({"action": "list"})
            assert "out.txt" in listing and "data/" in listing
            blob = bytes(range(200, 256))
            files.invoke({"action": "write", "path": "b.bin", "content": base64.b64encode(blob).decode(),
                          "encoding": "base64"})
            assert files.invoke({"action": "read", "path": "b.bin"}) == "base64:" + base64.b64encode(blob).decode()
            # mistakes are answers for the model, not exceptions in the agent
            assert "'..'" in files.invoke({"action": "read", "path": "../../etc/passwd"})
            assert "no such file" in files.invoke({"action": "read", "path": "nope.txt"})
        finally:
            run.session.close()
    notebook = (running_hub.folder("lc_sync", "c1") / "c1.ipynb").read_text()
    assert '"execution_count": 2' in notebook and "total * 2" in notebook


def test_async_calls_with_a_per_user_token(running_hub: RunningHub) -> None:
    with running_hub.client() as service:
        token = mint_user_token(service, "lc_async", 600).token
    from jhubctl.hubapi.client import HubClient

    async def main() -> tuple[str, str, str]:
        with HubClient(running_hub.hub.url, token) as hub:
            run, files = code_interpreter_tools(hub, "lc_async", "c1")
            try:
                first = await run.ainvoke({"code": "x = 'async'\nprint(x)"})
                failed = await run.ainvoke({"code": "raise ValueError('bad input')"})
                slow = await run.ainvoke({"code": "import time; time.sleep(20)", "timeout": 1})
                await files.ainvoke({"action": "write", "path": "note.txt", "content": "from async"})
                return first, failed, slow + await files.ainvoke({"action": "read", "path": "note.txt"})
            finally:
                run.session.close()

    first, failed, rest = asyncio.run(main())
    assert "stdout:\nasync" in first
    assert "ValueError: bad input" in failed
    assert "status: timeout" in rest and rest.endswith("from async")
