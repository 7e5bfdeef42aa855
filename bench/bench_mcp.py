"""One MCP `run_code` round trip against the library's `Interpreter.execute`, on the same warm kernel.

    .venv/bin/python bench/bench_mcp.py [--rounds N]

Starts a local hub and `jhubctl mcp --user bench` (stdio, a real MCP client session of the `mcp` SDK),
warms one conversation, then alternates: `Interpreter.execute` in this process, and `call_tool("run_code")`
through the MCP server, both on that conversation's kernel. Reports medians; the MCP figure includes
the JSON-RPC hop over stdio, the tool's text, and its look at the folder for produced files.
Target (docs/benchmarks.md): MCP ≤ library + 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
from mcp import Client, StdioServerParameters

from jhubctl.config import load_config
from jhubctl.hubapi.client import HubClient
from jhubctl.interpreter import Interpreter
from jhubctl.local.process import HubProcess
from jhubctl.state import Secrets

CONVERSATION = "warm"
LIBRARY_NOTEBOOK = "{conversation}-library.ipynb"


def share_kernel(server_url: str, token: str) -> None:
    """Bind the library's notebook to the kernel the MCP server started (jupyter-server sessions may share one)."""
    headers = {"Authorization": f"token {token}"}
    sessions = httpx.get(f"{server_url}api/sessions", headers=headers).json()
    kernel = next(s["kernel"]["id"] for s in sessions if s["path"] == f"{CONVERSATION}.ipynb")
    path = LIBRARY_NOTEBOOK.format(conversation=CONVERSATION)
    resp = httpx.post(f"{server_url}api/sessions", headers=headers,
                      json={"path": path, "name": path, "type": "notebook", "kernel": {"id": kernel}})
    assert resp.status_code == 201 and resp.json()["kernel"]["id"] == kernel, resp.text


async def measure(url: str, token: str, config: Path, state_dir: Path, rounds: int) -> tuple[list[float], list[float]]:
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "jhubctl", "--config", str(config), "--state-dir", str(state_dir), "mcp", "--user", "bench"])
    library: list[float] = []
    mcp: list[float] = []
    # The library appends to its own notebook (two processes saving one file would race), on the MCP kernel.
    with HubClient(url, token) as hub, Interpreter(hub, "bench", CONVERSATION, notebook_name=LIBRARY_NOTEBOOK) as it:
        async with Client(params, read_timeout_seconds=120) as client:
            await client.call_tool("run_code", {"conversation": CONVERSATION, "code": "x = 0"})  # server, kernel
            share_kernel(hub.server_url("bench", CONVERSATION), token)
            it.execute("x = 0")
            for i in range(rounds):
                began = time.perf_counter()
                it.execute(f"x = {i}")
                library.append(time.perf_counter() - began)
                began = time.perf_counter()
                result = await client.call_tool("run_code", {"conversation": CONVERSATION, "code": f"x = {i}"})
                mcp.append(time.perf_counter() - began)
                assert result.structured_content["status"] == "ok", result
    return library, mcp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "jhubctl.yaml"
        # Clients are compared, not server environments: jhubctl's own Python, no fence (as bench_local.py).
        config.write_text("target: local\nlocal:\n  interpreter: shared\n  fence: false\n")
        loaded = load_config(config, Path(tmp) / ".jhubctl", environ={})
        runner = HubProcess(loaded)
        hub = runner.start().hub
        token = Secrets(loaded.state_dir, environ={}).api_token()
        assert token
        try:
            library, mcp = anyio.run(measure, hub.url, token, config, loaded.state_dir, args.rounds)
        finally:
            runner.stop()
    lib, via = statistics.median(library), statistics.median(mcp)
    print(f"run_code round trip  MCP {via * 1000:8.1f} ms   library {lib * 1000:8.1f} ms   "
          f"delta {(via - lib) * 1000:+.1f} ms  (target ≤ +10 ms; median of {args.rounds})")


if __name__ == "__main__":
    main()
