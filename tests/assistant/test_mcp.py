"""`jhubctl mcp` driven by a real MCP client session of the `mcp` SDK, over stdio and HTTP, on the real hub."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402

from jhubctl.hubapi.tokens import mint_user_token  # noqa: E402
from jhubctl.interpreter import Interpreter  # noqa: E402
from jhubctl.local.process import free_port  # noqa: E402
from tests.assistant.conftest import RunningHub  # noqa: E402

pytestmark = pytest.mark.hub

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def argv(hub: RunningHub, *extra: str) -> list[str]:
    return ["-m", "jhubctl", "--config", str(hub.loaded.path), "--state-dir", str(hub.loaded.state_dir), "mcp", *extra]


def stdio(hub: RunningHub, user: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=argv(hub, "--user", user), env=env or {})


def session(params: Any, body: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            await body(client)

    anyio.run(main)


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def test_a_whole_session_over_stdio(running_hub: RunningHub) -> None:
    async def body(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"run_code", "list_files", "read_file", "write_file", "stop_server"}
        assert "persist" in tools["run_code"].description and "mcp_ann" in tools["run_code"].description
        assert set(tools["run_code"].input_schema["required"]) == {"conversation", "code"}
        assert "timeout" in tools["run_code"].input_schema["properties"]

        first = await client.call_tool("run_code", {"conversation": "c1", "code": "x = 6 * 7\nprint(x)"})
        assert not first.is_error and first.structured_content["stdout"] == "42\n"
        assert first.structured_content["notebook"] == "c1.ipynb"
        again = await client.call_tool("run_code", {"conversation": "c1", "code": "x + 1"})
        assert again.structured_content["result"] == "43"  # the kernel kept x
        assert again.structured_content["execution_count"] == first.structured_content["execution_count"] + 1

        shown = await client.call_tool("run_code", {"conversation": "c1", "code": (
            "from IPython.display import Image, display\nimport base64\n"
            f"display(Image(data=base64.b64decode({base64.b64encode(PNG).decode()!r})))\n"
            "open('made.txt', 'w').write('by code')")})
        images = [c for c in shown.content if c.type == "image"]
        assert len(images) == 1 and images[0].mime_type == "image/png"
        assert base64.b64decode(images[0].data) == PNG
        assert shown.structured_content["files"] == []  # run_code makes no extra request; list_files shows them

        wrote = await client.call_tool("write_file", {"conversation": "c1", "path": "in/data.csv", "content": "a,b\n1,2\n"})
        assert not wrote.is_error, text(wrote)
        back = await client.call_tool("read_file", {"conversation": "c1", "path": "in/data.csv"})
        assert text(back) == "a,b\n1,2\n" and back.structured_content["encoding"] == "utf-8"
        blob = bytes(range(256))
        await client.call_tool("write_file", {"conversation": "c1", "path": "b.bin",
                                              "content": base64.b64encode(blob).decode(), "encoding": "base64"})
        back = await client.call_tool("read_file", {"conversation": "c1", "path": "b.bin"})
        assert back.structured_content["encoding"] == "base64" and base64.b64decode(text(back)) == blob
        read_by_code = await client.call_tool("run_code", {"conversation": "c1", "code": "print(open('in/data.csv').read())"})
        assert "1,2" in read_by_code.structured_content["stdout"]
        listed = await client.call_tool("list_files", {"conversation": "c1"})
        assert {"made.txt", "b.bin", "in"} <= {e["path"] for e in json.loads(text(listed))["files"]}

        failed = await client.call_tool("run_code", {"conversation": "c1", "code": "1 / 0"})
        assert not failed.is_error and failed.structured_content["status"] == "error"
        assert "ZeroDivisionError" in text(failed) and "\x1b[" not in text(failed)
        slow = await client.call_tool("run_code", {"conversation": "c1", "code": "import time; time.sleep(30)", "timeout": 1})
        assert slow.structured_content["status"] == "timeout" and "interrupted" in text(slow)
        still = await client.call_tool("run_code", {"conversation": "c1", "code": "print(x)"})
        assert still.structured_content["stdout"] == "42\n"

        bad = await client.call_tool("read_file", {"conversation": "c1", "path": "../../../etc/passwd"})
        assert bad.is_error and "'..'" in text(bad)
        stopped = await client.call_tool("stop_server", {"conversation": "c1"})
        assert json.loads(text(stopped))["stopped"] is True

    session(stdio(running_hub, "mcp_ann"), body)
    with running_hub.client() as hub:
        assert hub.server("mcp_ann", "c1") is None
        tokens = hub.request("GET", "/users/mcp_ann/tokens").json()["api_tokens"]
    minted = [t for t in tokens if t["note"] == "jhubctl mcp"]
    assert minted and all(s.endswith("!user=mcp_ann") for t in minted for s in t["scopes"])
    assert (running_hub.folder("mcp_ann", "c1") / "b.bin").read_bytes() == bytes(range(256))
    notebook = json.loads((running_hub.folder("mcp_ann", "c1") / "c1.ipynb").read_text())
    assert ["".join(c["source"]) for c in notebook["cells"]][:2] == ["x = 6 * 7\nprint(x)", "x + 1"]
    assert len(notebook["cells"]) == 7 and all(c["execution_count"] for c in notebook["cells"])


def test_another_users_conversation_is_out_of_reach(running_hub: RunningHub) -> None:
    with running_hub.client() as hub, Interpreter(hub, "mcp_bob", "secret") as bob:
        bob.upload("key.txt", b"bob's key")
    with running_hub.client() as hub:
        token = mint_user_token(hub, "mcp_eve", 600)  # what `jhubctl token --user mcp_eve` hands out

    async def body(client: Client) -> None:
        # the same conversation id is eve's own, empty conversation
        listed = await client.call_tool("list_files", {"conversation": "secret"})
        assert "key.txt" not in text(listed)
        missing = await client.call_tool("read_file", {"conversation": "secret", "path": "key.txt"})
        assert missing.is_error and "bob" not in text(missing)
        for path in ("../../../mcp_bob/conversations/secret/key.txt", "/etc/passwd"):
            refused = await client.call_tool("read_file", {"conversation": "secret", "path": path})
            assert refused.is_error
        for conversation in ("../mcp_bob", "mcp_bob/secret"):
            refused = await client.call_tool("list_files", {"conversation": conversation})
            assert refused.is_error and "invalid conversation id" in text(refused)

    session(stdio(running_hub, "mcp_eve", {"JHUBCTL_USER_TOKEN": token.token}), body)
    # the token such a server holds cannot touch bob's server or his files, whatever a tool would send
    with running_hub.client() as hub:
        url = hub.server("mcp_bob", "secret").url
    headers = {"Authorization": f"token {token.token}"}
    assert httpx.get(f"{url}api/contents/key.txt", headers=headers).status_code in (302, 403)
    assert httpx.get(f"{running_hub.hub.url}/hub/api/users/mcp_bob", headers=headers).status_code == 404


def test_a_token_of_another_user_is_refused_at_start(running_hub: RunningHub) -> None:
    with running_hub.client() as hub:
        hub.ensure_user("mcp_other")
        token = hub.new_token("mcp_other", scopes=["read:users!user"], expires_in=600, note="test").token
    env = {**os.environ, "JHUBCTL_USER_TOKEN": token}
    done = subprocess.run([sys.executable, *argv(running_hub, "--user", "mcp_zed")], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "belongs to user 'mcp_other'" in done.stderr and done.stdout == ""
    assert token not in done.stderr


def test_http_needs_a_bearer_token(running_hub: RunningHub) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JHUBCTL_MCP_TOKEN"}
    done = subprocess.run([sys.executable, *argv(running_hub, "--user", "mcp_web", "--http", "127.0.0.1:1")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "JHUBCTL_MCP_TOKEN" in done.stderr

    port, bearer = free_port(), "b" * 24 + "-test-bearer"
    proc = subprocess.Popen([sys.executable, *argv(running_hub, "--user", "mcp_web", "--http", f"127.0.0.1:{port}")],
                            env={**env, "JHUBCTL_MCP_TOKEN": bearer}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 60
        while True:
            try:
                anonymous = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        assert anonymous.status_code == 401
        wrong = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401

        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        async def main() -> None:
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=120) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    ran = await client.call_tool("run_code", {"conversation": "web", "code": "print('over http')"})
                    assert ran.structured_content["stdout"] == "over http\n"

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
