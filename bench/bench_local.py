"""jhubctl against a minimal raw client on the same local hub, in the same run.

    .venv/bin/python bench/bench_local.py [--rounds N] [--exec-rounds N] [--process-rounds N]

Measures (medians, alternating jhubctl and raw so drift hits both alike):
  start-server→ready   HubClient.start_server vs a raw httpx POST + progress stream, each on a fresh
                       named server (stopped and removed between rounds);
  execute, answered    Interpreter.execute() until the kernel has answered (the notebook save is still
                       queued) vs a raw websocket execute_request → idle, on already-running kernels;
  execute, saved       execute() + flush(): until the cell is durably in the notebook, vs the same raw;
  exec process         a whole warm `jhubctl exec USER CONV --code pass` process vs a minimal raw Python
                       process that imports httpx and websockets, finds the conversation's kernel (one
                       GET, with no CA bundle for plain http, as jhubctl), runs the same code over the
                       kernel channel and exits. jhubctl also saves the cell (GET + PUT) before it exits.
                       Both run warm: the server, the kernel, the notebook and jhubctl's config cache exist,
                       and jhubctl's modules are byte-compiled, as an installed copy's are. The imports
                       alone of each (every module `exec` loads, against httpx + websockets) are timed too,
                       to show how much of the difference is start-up.
Targets (docs/benchmarks.md): start ≤ 1.10 × raw; saved ≤ raw + 20 ms; exec process ≤ 1.5 × raw.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.sync.client import connect

import jhubctl
from jhubctl.config import load_config
from jhubctl.hubapi.client import HubClient
from jhubctl.hubapi.kernel import execute_request
from jhubctl.interpreter import Interpreter
from jhubctl.local.process import HubProcess
from jhubctl.state import Secrets

USER = "bench"

#: The raw client: no jhubctl, only what any client needs (httpx, websockets), one process per run.
RAW_PROCESS = """
import json, os, sys, uuid
from datetime import datetime, timezone
import httpx
from websockets.sync.client import connect

url, token, user, conversation, code = sys.argv[1:6]
headers = {"Authorization": f"token {token}"}
server = f"{url}/user/{user}/{conversation}"
# plain http, as jhubctl's own client: no CA bundle to load
sessions = httpx.get(f"{server}/api/sessions", headers=headers, verify=not url.startswith("http://")).json()
kernel = next(s["kernel"]["id"] for s in sessions if s["path"] == f"{conversation}.ipynb")
session = uuid.uuid4().hex
channel = f"{server.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels?session_id={session}"
with connect(channel, additional_headers=headers) as ws:
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": "raw",
              "date": datetime.now(timezone.utc).isoformat(), "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                        "channel": "shell", "buffers": []}))
    while True:
        reply = json.loads(ws.recv())
        if (reply["parent_header"].get("msg_id") == msg_id and reply["header"]["msg_type"] == "status"
                and reply["content"]["execution_state"] == "idle"):
            break
"""


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


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def start_rounds(client: HubClient, url: str, token: str, rounds: int) -> tuple[list[float], list[float]]:
    ours, raw = [], []
    for round_ in range(rounds):
        for kind in ("ours", "raw") if round_ % 2 == 0 else ("raw", "ours"):
            name = f"b-{uuid.uuid4().hex[:8]}"
            if kind == "ours":
                ours.append(client.start_server(USER, name, {"conversation_id": name}, timeout=120,
                                                idle_timeout=60).seconds)
            else:
                raw.append(raw_start(url, token, USER, name))
            client.stop_server(USER, name, remove=True)
    return ours, raw


def execute_rounds(client: HubClient, token: str, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"answered": [], "saved": [], "raw": []}
    with Interpreter(client, USER, "exec-ours") as it, Interpreter(client, USER, "exec-raw") as other:
        it.execute("1")  # warm: server, kernel, notebook
        it.flush()
        other.execute("1")
        server, _ = other._connect(None)
        session = uuid.uuid4().hex
        with connect(f"{server.kernel_ws_url(other._kernel_id)}?session_id={session}",
                     additional_headers={"Authorization": f"token {token}"}) as ws:
            for i in range(rounds):
                samples["answered"].append(timed(lambda: it.execute(f"x = {i}")))
                it.flush()  # not counted: the next sample starts with no save pending
                samples["saved"].append(timed(lambda: (it.execute(f"x = {i}"), it.flush())))
                samples["raw"].append(raw_exec(ws, session, f"x = {i}"))
    return samples


#: What the raw client imports; what `jhubctl exec` imports is read from a real run (`exec_imports`).
RAW_IMPORTS = "import httpx, websockets.sync.client"


def exec_imports(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    """An import statement for every jhubctl module a warm `exec` loads (their own imports follow)."""
    script = ("import sys; from jhubctl.cli import main; main(sys.argv[1:]); "
              "print(', '.join(m for m in sys.modules if m.split('.')[0] == 'jhubctl'))")
    done = subprocess.run([sys.executable, "-c", script, *argv], env=env, cwd=cwd, check=True, capture_output=True,
                          text=True)
    return f"import {done.stdout.strip().splitlines()[-1]}"


def process_rounds(url: str, token: str, project: Path, state_dir: Path, rounds: int) -> dict[str, list[float]]:
    # jhubctl's modules as an installed copy has them, byte-compiled (pip does it at install time): with
    # PYTHONDONTWRITEBYTECODE set (CI machines set it) a source checkout would recompile them on every run.
    compileall.compile_dir(Path(jhubctl.__file__).parent, quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "JHUBCTL_CONFIG"} | {"JHUBCTL_STATE_DIR": str(state_dir)}
    exec_argv = ["exec", USER, "exec-process", "--code", "pass"]
    argvs = {
        "ours": [str(Path(sys.executable).parent / "jhubctl"), *exec_argv],
        "raw": [sys.executable, "-c", RAW_PROCESS, url, token, USER, "exec-process", "pass"],
    }
    for argv in argvs.values():  # warm: server, kernel, notebook, the config's cache, file caches
        subprocess.run(argv, env=env, cwd=project, check=True, capture_output=True)
    argvs |= {"ours imports": [sys.executable, "-c", exec_imports(exec_argv, env, project)],
              "raw imports": [sys.executable, "-c", RAW_IMPORTS]}
    samples: dict[str, list[float]] = {name: [] for name in argvs}
    names = list(argvs)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            samples[name].append(timed(lambda: subprocess.run(argvs[name], env=env, cwd=project, check=True,
                                                              capture_output=True)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="start-server rounds")
    parser.add_argument("--exec-rounds", type=int, default=30, help="library execute rounds")
    parser.add_argument("--process-rounds", type=int, default=15, help="exec process rounds (>= 10 for the docs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # jhubctl's own Python, unfenced: the numbers compare clients, not server environments
        (Path(tmp) / "jhubctl.yaml").write_text("local:\n  interpreter: shared\n  fence: false\n")
        loaded = load_config(Path(tmp) / "jhubctl.yaml", Path(tmp) / ".jhubctl", environ={})
        runner = HubProcess(loaded)
        hub = runner.start().hub
        token = Secrets(loaded.state_dir, environ={}).api_token()
        assert token
        try:
            with HubClient(hub.url, token) as client:
                client.ensure_user(USER)
                start_ours, start_raw = start_rounds(client, hub.url, token, args.rounds)
                execute = execute_rounds(client, token, args.exec_rounds)
            process = process_rounds(hub.url, token, Path(tmp), loaded.state_dir, args.process_rounds)
        finally:
            runner.stop()
    med = statistics.median
    print("start samples (s): jhubctl", [round(x, 2) for x in start_ours], "raw", [round(x, 2) for x in start_raw])
    print(f"start-server→ready      jhubctl {med(start_ours) * 1000:8.1f} ms   raw {med(start_raw) * 1000:8.1f} ms   "
          f"ratio {med(start_ours) / med(start_raw):.3f}  (target ≤ 1.10)")
    raw = med(execute["raw"])
    for kind, label in (("answered", "execute, answered"), ("saved", "execute + flush, saved")):
        ours = med(execute[kind])
        target = "  (target ≤ +20 ms)" if kind == "saved" else ""
        print(f"{label:23} jhubctl {ours * 1000:8.1f} ms   raw {raw * 1000:8.1f} ms   "
              f"delta {(ours - raw) * 1000:+.1f} ms{target}")
    print("exec process samples (ms): jhubctl", [round(x * 1000) for x in process["ours"]],
          "raw", [round(x * 1000) for x in process["raw"]])
    ours, raw = med(process["ours"]), med(process["raw"])
    print(f"exec process            jhubctl {ours * 1000:8.1f} ms   raw {raw * 1000:8.1f} ms   "
          f"ratio {ours / raw:.2f}  (target ≤ 1.5; median of {len(process['ours'])})")
    ours, raw = med(process["ours imports"]), med(process["raw imports"])
    print(f"  of which imports      jhubctl {ours * 1000:8.1f} ms   raw {raw * 1000:8.1f} ms   "
          f"delta {(ours - raw) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
