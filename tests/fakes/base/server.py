"""The HTTP(S) skeleton every fake shares: a threaded server on 127.0.0.1 with a throw-away ``trustme``
CA, and the request pipeline record -> refuse -> fault -> handle -> late fault -> send.

A fake subclasses :class:`FakeServer` and fills in its domain: :meth:`FakeServer._refuse` (auth and
front-door checks), :meth:`FakeServer._handle` (the API itself), and optionally routing, the record
type, error types, the answer to a crash and the headers of each answer.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import trustme

from .log import RequestLog, RequestRecord

#: Stands for a request body that is not JSON (the record keeps its text).
BAD_BODY: Any = object()


@dataclass
class Reply:
    """What the fake wants sent back. A ``str`` body is sent as ``text/plain``, others as JSON."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def load_ca(ca: Any = None) -> trustme.CA:
    """``None`` (a new CA), a ``trustme.CA``, or ``(cert_pem_path, key_pem_path)``."""
    if ca is None:
        return trustme.CA()
    if isinstance(ca, (tuple, list)):
        return trustme.CA.from_pem(Path(ca[0]).read_bytes(), Path(ca[1]).read_bytes())
    return ca


class FakeServer:
    """Lifecycle (``start``/``stop``, context manager), TLS, the request log and the request pipeline."""

    #: Thread name, temp-dir prefix and CA file name (``<name>-ca.pem``).
    name: ClassVar[str] = "fake"
    record_class: ClassVar[type[RequestRecord]] = RequestRecord
    #: Collapse ``//`` in request paths before routing and recording.
    collapse_slashes: ClassVar[bool] = True
    methods: ClassVar[frozenset[str]] = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD"})
    #: Exceptions that carry an answer (``.reply()``) rather than a bug of the fake.
    error_types: ClassVar[tuple[type[Exception], ...]] = ()
    json_content_type: ClassVar[str] = "application/json"
    faults: Any

    def __init__(self, *, tls: bool = True, ca: Any = None, ca_dir: Path | str | None = None) -> None:
        self.tls = tls
        self.ca: trustme.CA | None = load_ca(ca) if tls else None
        self.requests: RequestLog[Any] = RequestLog(self.record_class)
        #: Tracebacks of bugs in the fake itself (answered with a 500).
        self.internal_errors: list[str] = []
        self._ca_dir_arg = Path(ca_dir) if ca_dir is not None else None
        self._tmpdir: Path | None = None
        self._server: _Server | None = None
        self.url = ""
        self.ca_pem = b""
        self.ca_pem_path: Path | None = Path() if tls else None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        ctx: ssl.SSLContext | None = None
        if self.ca is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
            self.ca_pem = self.ca.cert_pem.bytes()
            if self._ca_dir_arg is None:
                self._tmpdir = ca_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
            else:
                ca_dir = self._ca_dir_arg
                ca_dir.mkdir(parents=True, exist_ok=True)
            self.ca_pem_path = ca_dir / f"{self.name}-ca.pem"
            self.ca_pem_path.write_bytes(self.ca_pem)
        self._server = _Server(("127.0.0.1", 0), _Handler, ctx, self)
        self.url = f"{'https' if ctx else 'http'}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences ----------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """A client ``ssl.SSLContext`` trusting this fake's CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem_path))

    def writes(self, *, include_faulted: bool = False) -> list[Any]:
        """Write requests in order (fault-answered ones left out unless ``include_faulted``)."""
        return self.requests.writes(include_faulted=include_faulted)

    # -- request pipeline (handler threads) ------------------------------------------------------
    def _process(self, method: str, target: str, headers: Message, raw: bytes) -> Reply:
        parts = urlsplit(target)
        path = re.sub(r"/+", "/", parts.path) if self.collapse_slashes else parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = BAD_BODY
        route = self._route(method, path, query)
        rec = self._record(
            route,
            headers,
            method=method,
            path=path,
            query=query,
            body=raw.decode("utf-8", "replace") if body is BAD_BODY else body,
            headers={k: v for k, v in headers.items() if k.lower() != "authorization"},
        )
        reply = self._dispatch(rec, route, headers.get("Authorization"), body)
        rec.status, rec.response = reply.status, self._logged_response(reply)
        return reply

    def _dispatch(self, rec: Any, route: Any, authorization: str | None, body: Any) -> Reply:
        try:
            refused = self._refuse(rec, route, authorization)
            if refused is not None:
                return refused
            fault = self.faults.before(rec)
            if fault is not None:
                return self._fault_reply(rec, fault)
            reply = self._handle(rec, route, body)
            late = self.faults.after(rec)
            return reply if late is None else self._fault_reply(rec, late)
        except self.error_types as err:
            return err.reply()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a bug in the fake must show up, not hang the client
            self.internal_errors.append(traceback.format_exc())
            return self._crash_reply()

    def _fault_reply(self, rec: Any, fault: Any) -> Reply:
        reply: Reply = self._fault_error(fault).reply()
        rec.fault = reply.status
        return reply

    # -- what a fake fills in --------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str]) -> Any:
        """Where the request goes (passed to the other steps); ``None`` when the fake does not route."""
        return None

    def _record(self, route: Any, request_headers: Message, **fields: Any) -> Any:
        return self.requests.new(**fields)

    def _refuse(self, rec: Any, route: Any, authorization: str | None) -> Reply | None:
        """An answer sent before faults and handling (auth, front-door checks), or ``None``."""
        return None

    def _handle(self, rec: Any, route: Any, body: Any) -> Reply:
        raise NotImplementedError

    def _fault_error(self, fault: Any) -> Any:
        """The error (with ``.reply()``) for what ``faults.before``/``after`` returned."""
        return fault

    def _crash_reply(self) -> Reply:
        return Reply(500, f"{self.name} crashed")

    def _logged_response(self, reply: Reply) -> Any:
        """What :attr:`RequestRecord.response` keeps of the answer."""
        return reply

    def _reply_headers(self, request_headers: Message, reply: Reply) -> dict[str, str]:
        """Headers sent ahead of the reply's own (request ids ...); may also amend ``reply.body``."""
        return {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, ssl_ctx: ssl.SSLContext | None, fake: FakeServer) -> None:
        super().__init__(addr, handler)
        self.ssl_ctx = ssl_ctx
        self.fake = fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the per-connection thread, not in the accept loop. TCP_NODELAY (and the
        # handler's buffered writes) avoid the 40 ms Nagle/delayed-ACK stall per request.
        request.settimeout(30)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    wbufsize = 64 * 1024  # one TLS record per answer; flushed by handle_one_request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _serve(self) -> None:
        fake = self.server.fake
        if self.command not in fake.methods:
            self.send_error(501, "Unsupported method (%r)" % self.command)
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        reply = fake._process(self.command, self.path, self.headers, raw)
        leading = fake._reply_headers(self.headers, reply)
        if reply.body is None or self.command == "HEAD":
            payload, ctype = b"", None
        elif isinstance(reply.body, str):
            payload, ctype = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(reply.body).encode(), fake.json_content_type
        self.send_response(reply.status)
        for key, value in [*leading.items(), *reply.headers.items()]:
            self.send_header(key, value)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _serve
