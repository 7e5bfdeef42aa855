"""What a proxy costs per kernel message: direct, jhubctl's local proxy, the PyPI proxy as shipped, Node's.

    .venv/bin/python bench/bench_proxy.py [--rounds N] [--node-proxy PATH | --install-node-proxy DIR]

The upstream is a websocket server shaped like a kernel channel: for each request it answers at once with
four small messages (status busy, execute_input, execute_reply, status idle), as a kernel does for one
execution, and it asks for no delay (TCP_NODELAY), so what remains is the proxy's own cost. Each path gets
one connection that asks for the kernel subprotocol `v1.kernel.websocket.jupyter.org` and, as that
protocol does, sends and receives binary frames; rounds alternate between paths so drift hits all alike.
Reported per path: the negotiated subprotocol, whether binary frames arrived as binary both ways, the
median round trip (one request, four answers), and its difference to the direct connection.

The Node proxy is measured when found: `--node-proxy PATH`, else `configurable-http-proxy` from npm
installed into DIR with `--install-node-proxy DIR` (needs npm and the registry), else skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from websockets.sync.client import ClientConnection, connect

from jhubctl.local.process import free_port

SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
ANSWERS = ("busy", "execute_input", "execute_reply", "idle")


def serve_upstream(port: int) -> None:
    """A tornado websocket server (jupyter-server's stack) that answers each request as a kernel would."""
    import tornado.web
    import tornado.websocket

    class Channel(tornado.websocket.WebSocketHandler):
        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            return SUBPROTOCOL if SUBPROTOCOL in subprotocols else None

        def open(self, *args: str) -> None:
            self.set_nodelay(True)

        def on_message(self, message: str | bytes) -> None:
            parent = json.loads(message)["id"]
            for kind in ANSWERS:
                answer = {"parent": parent, "type": kind, "binary": isinstance(message, bytes), "padding": "x" * 200}
                self.write_message(json.dumps(answer).encode(), binary=True)

    async def run() -> None:
        tornado.web.Application([(r"/.*", Channel)]).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the proxy exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start_proxy(command: list[str], upstream: int) -> tuple[subprocess.Popen[bytes], int]:
    port, api = free_port(), free_port()
    env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)}
    proc = subprocess.Popen(
        [*command, "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1", "--api-port", str(api),
         "--default-target", f"http://127.0.0.1:{upstream}", "--log-level", "error"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return proc, port


def round_trip(ws: ClientConnection, n: int) -> tuple[float, bool]:
    """Seconds for one request and its answers, and whether binary frames stayed binary both ways."""
    began = time.perf_counter()
    ws.send(json.dumps({"id": n}).encode())
    binary = True
    for _ in ANSWERS:
        raw = ws.recv(timeout=10)
        binary = binary and isinstance(raw, bytes) and json.loads(raw)["binary"]
    return time.perf_counter() - began, binary


def node_proxy(args: argparse.Namespace) -> str | None:
    if args.node_proxy:
        return args.node_proxy
    if args.install_node_proxy:
        prefix = Path(args.install_node_proxy)
        binary = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
        if not binary.exists() and shutil.which("npm"):
            subprocess.run(["npm", "install", "--prefix", str(prefix), "configurable-http-proxy@4"], check=True,
                           stdout=subprocess.DEVNULL)
        return str(binary) if binary.exists() else None
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--node-proxy", help="a Node configurable-http-proxy executable")
    parser.add_argument("--install-node-proxy", metavar="DIR", help="npm install configurable-http-proxy here")
    args = parser.parse_args()

    upstream = free_port()
    serve_upstream(upstream)
    wait_port(upstream)
    commands = {
        "jhubctl local proxy": [sys.executable, "-m", "jhubctl.local.proxy"],
        "PyPI proxy as shipped": [str(Path(sys.executable).parent / "configurable-http-proxy")],
    }
    if node := node_proxy(args):
        commands["Node proxy (npm)"] = [node]
    ports = {"direct": upstream}
    with contextlib.ExitStack() as stack:
        for name, command in commands.items():
            proc, ports[name] = start_proxy(command, upstream)
            stack.callback(proc.wait)
            stack.callback(proc.terminate)
        sockets = {name: stack.enter_context(connect(f"ws://127.0.0.1:{port}/api/kernels/k/channels",
                                                     subprotocols=[SUBPROTOCOL]))
                   for name, port in ports.items()}
        samples: dict[str, list[float]] = {name: [] for name in ports}
        binary = dict.fromkeys(ports, True)
        names = list(ports)
        for n in range(args.rounds):
            for name in names[n % len(names):] + names[:n % len(names)]:
                seconds, kept = round_trip(sockets[name], n)
                samples[name].append(seconds)
                binary[name] = binary[name] and kept
    direct = statistics.median(samples["direct"])
    print(f"{'path':24} {'subprotocol':34} {'binary frames':14} {'median round trip':>18} {'vs direct':>10}")
    for name in names:
        median = statistics.median(samples[name])
        negotiated = sockets[name].subprotocol or "none (client falls back)"
        kept = "kept" if binary[name] else "made text"
        print(f"{name:24} {negotiated:34} {kept:14} {median * 1000:15.2f} ms {(median - direct) * 1000:+8.2f} ms")
    print(f"(median of {args.rounds} round trips each: one request, {len(ANSWERS)} answers)")


if __name__ == "__main__":
    main()
