"""The local hub's proxy: the Python configurable-http-proxy, answering websocket subprotocols as Node's does.

The PyPI port never answers `Sec-WebSocket-Protocol`, so a Jupyter client asking for the kernel protocol
`v1.kernel.websocket.jupyter.org` gets no answer, drops the connection and reconnects with the legacy
protocol. The port already forwards the client's headers to the server, so the server's choice is on the
upstream connection when the client's handshake is answered: this handler passes it on. It also turns
off Nagle's algorithm on both legs: a kernel answers with several small messages in a row, and a held
back segment waits for the peer's delayed ACK (40 ms on Linux) on every execution.

Run by the hub as `python -m jhubctl.local.proxy` with configurable-http-proxy's own options; needs the
`local` extra (tornado and the PyPI configurable-http-proxy).
"""

from __future__ import annotations

from typing import Any

from configurable_http_proxy import cli, configproxy
from configurable_http_proxy.handlers import ProxyHandler


class SubprotocolProxyHandler(ProxyHandler):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        chosen = self.ws_client.selected_subprotocol if self.ws_client is not None else None
        return chosen if chosen in subprotocols else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)
        if self.ws_client is not None:
            self.ws_client.protocol.set_nodelay(True)

    def on_message(self, message: str | bytes) -> None:
        """Binary frames stay binary (the port sends them upstream as text, which breaks the v1 framing)."""
        if self.ws_client is not None:
            prefix = self.target["prefix"] if self.target else ""
            if prefix:
                self.proxy.update_last_activity(prefix)
            self.ws_client.write_message(message, binary=isinstance(message, bytes))


def main() -> None:
    configproxy.ProxyHandler = SubprotocolProxyHandler  # type: ignore[misc]  # what PythonProxy routes to
    cli.main()


if __name__ == "__main__":
    main()
