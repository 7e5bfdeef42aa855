"""jhubctl against a minimal raw client on the same local hub, in the same run.

    .venv/bin/python bench/bench_local.py [--rounds N]

Measures (medians over N rounds, alternating jhubctl/raw so drift hits both alike):
  start-server→ready: jhubctl's HubClient.start_server vs raw httpx POST + progress stream,
                      each on a fresh named server (stopped and removed between rounds);
  exec round trip:    Interpreter.execute (incl. saving the notebook) vs a raw websocket
                      execute_request → idle, on already-running kernels.
Targets (docs/benchmarks.md): start ≤ 1.10 × raw, exec ≤ raw + 20 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.sync.client import connect

from jhubctl.config import load_config
from jhubctl.hubapi.client import HubClient
from jhubctl.hubapi.kernel import execute_request
from jhubctl.interpreter import Interpreter
from jhubctl.local.process import HubProcess
from jhubctl.state import Secrets


def raw_start(url: str, token: str, user: str, name: str) -> float:
    headers = {"Authorization": f"token {token}"}
    began = time.perf_counter()
    with httpx.Client(base_url=f"{url}/hub/api", headers=headers, timeout=60) as http:
        resp = http.post(f"/users/{user}/servers/{name}", json={"conversation_id": name})
        if resp.status_code == 202:
            with http.stream("GET", f"/users/{user}/servers/{name}/progress") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:]).get("ready"):
                        break
        else:
            assert resp.status_code == 201, resp.text
    return time.perf_counter() - began


def raw_exec(ws, session: str, code: str) -> float:
    began = time.perf_counter()
    msg = execute_request(session, code)
    ws.send(json.dumps(msg))
    while True:
        reply = json.loads(ws.recv())
        if (reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]
                and reply["header"]["msg_type"] == "status" and reply["content"]["execution_state"] == "idle"):
            return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--exec-rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_config(None, Path(tmp) / ".jhubctl", environ={})
        runner = HubProcess(loaded)
        hub = runner.start().hub
        token = Secrets(loaded.state_dir, environ={}).api_token()
        try:
            client = HubClient(hub.url, token)
            client.ensure_user("bench")
            ours, raw = [], []
            for round_ in range(args.rounds):
                for kind in ("ours", "raw") if round_ % 2 == 0 else ("raw", "ours"):
                    name = f"b-{uuid.uuid4().hex[:8]}"
                    if kind == "ours":
                        ours.append(client.start_server("bench", name, {"conversation_id": name},
                                                        timeout=120, idle_timeout=60).seconds)
                    else:
                        raw.append(raw_start(hub.url, token, "bench", name))
                    client.stop_server("bench", name, remove=True)
            start_ours, start_raw = statistics.median(ours), statistics.median(raw)
            print("start samples (s): jhubctl", [round(x, 2) for x in ours], "raw", [round(x, 2) for x in raw])

            with Interpreter(client, "bench", "exec-ours") as it:
                it.execute("1")  # warm: server, kernel, notebook
                ex_ours = []
                raw_it = Interpreter(client, "bench", "exec-raw")
                raw_it.execute("1")
                server, kernel = raw_it._connect(None)
                ex_raw = []
                ws_url = server.kernel_ws_url(raw_it._kernel_id)
                session = uuid.uuid4().hex
                with connect(f"{ws_url}?session_id={session}",
                             additional_headers={"Authorization": f"token {token}"}) as ws:
                    for i in range(args.exec_rounds):
                        ex_ours.append(_timed(it, i))
                        ex_raw.append(raw_exec(ws, session, f"x = {i}"))
                raw_it.close()
            exec_ours, exec_raw = statistics.median(ex_ours), statistics.median(ex_raw)
        finally:
            runner.stop()
    print(f"start-server→ready  jhubctl {start_ours * 1000:8.1f} ms   raw {start_raw * 1000:8.1f} ms   "
          f"ratio {start_ours / start_raw:.3f}  (target ≤ 1.10)")
    print(f"exec round trip     jhubctl {exec_ours * 1000:8.1f} ms   raw {exec_raw * 1000:8.1f} ms   "
          f"delta {(exec_ours - exec_raw) * 1000:+.1f} ms  (target ≤ +20 ms)")


def _timed(it: Interpreter, i: int) -> float:
    """Wall time of the whole library call, notebook save included: what an assistant waits for."""
    began = time.perf_counter()
    it.execute(f"x = {i}")
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
