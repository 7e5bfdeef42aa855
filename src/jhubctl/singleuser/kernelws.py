"""The kernel websocket of user servers, with Nagle's algorithm off.

A kernel answers one execution with several small messages in a row (busy, execute_input, the reply,
idle). jupyter-server writes each to the websocket as it comes, and with Nagle's algorithm on, every one
after the first waits for the peer's delayed ACK: 40 ms per execution on Linux, more than the execution
itself. Every user server, on every target, uses this connection class
(`ServerApp.kernel_websocket_connection_class`); bench/bench_local.py measures the difference.
"""

from __future__ import annotations

import asyncio

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    def connect(self) -> asyncio.Future[None] | None:
        self.websocket_handler.set_nodelay(True)
        return super().connect()
