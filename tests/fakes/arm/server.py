"""HTTPS transport of the fake ARM: TLS with a throw-away CA, auth, api-version, logging, faults.

azure-core refuses to send a bearer token over plain HTTP, so the fake serves HTTPS on 127.0.0.1
with a certificate from a CA made at start-up (``trustme``). Tests point ``REQUESTS_CA_BUNDLE``
at :attr:`FakeArm.ca_pem_path` (requests ignores ``SSL_CERT_FILE``) and build the real SDK
clients with ``base_url=fake.url`` and a :class:`~.credential.StaticTokenCredential`.

Checks made here, before the resource store sees a request, mirror ARM's front door: a bearer
token (401 ``AuthenticationFailed`` otherwise) and an ``api-version`` query parameter (400
``MissingApiVersionParameter``).
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
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

import trustme

from .common import ArmError, Reply, RequestLog, RequestRecord
from .credential import StaticTokenCredential
from .faults import Faults
from .lro import LroSettings
from .store import ResourceStore

_JSON_ERROR = object()


class FakeArm:
    """A fake Azure Resource Manager endpoint for the real azure-mgmt SDK clients.

    Use as a context manager (or ``start()``/``stop()``)::

        with FakeArm() as fake:
            os.environ["REQUESTS_CA_BUNDLE"] = str(fake.ca_pem_path)
            client = ResourceManagementClient(fake.credential(), fake.subscription_id, base_url=fake.url)

    ``latency`` maps resource types (optionally ``"type:create|update|delete"``) to seconds an
    operation stays in progress; see :class:`~.lro.LroSettings`.
    """

    def __init__(
        self,
        *,
        subscription_id: str | None = None,
        tenant_id: str | None = None,
        latency: dict[str, float] | None = None,
        default_latency: float = 0.0,
        in_progress_polls: int = 1,
        retry_after_floor: float = 0.01,
        kubeconfig: str | None = None,
        unregistered_providers: Iterable[str] = (),
        registration_latency: float = 0.0,
        strict_principals: bool = True,
        expected_token: str | None = None,
        ca_dir: Path | str | None = None,
    ) -> None:
        self.subscription_id = subscription_id or str(uuid.uuid4())
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.expected_token = expected_token
        self.lro_settings = LroSettings(
            latency=dict(latency or {}),
            default_latency=default_latency,
            in_progress_polls=in_progress_polls,
            retry_after_floor=retry_after_floor,
        )
        self.faults = Faults()
        self.requests = RequestLog()
        #: Tracebacks of bugs in the fake itself (answered 500 ``FakeArmInternalError``).
        self.internal_errors: list[str] = []
        self.resources = ResourceStore(
            subscription_id=self.subscription_id,
            tenant_id=self.tenant_id,
            lro_settings=self.lro_settings,
            faults=self.faults,
            base_url=lambda: self.url,
            kubeconfig=kubeconfig,
            unregistered_providers=unregistered_providers,
            registration_latency=registration_latency,
            strict_principals=strict_principals,
        )
        #: Object id of "the operator" running jhubctl; known to the fake directory.
        self.operator_object_id = self.resources.new_principal()
        self._ca_dir_arg = Path(ca_dir) if ca_dir is not None else None
        self._tmpdir: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.ca_pem_path = Path()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "FakeArm":
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        if self._ca_dir_arg is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="fake-arm-"))
            ca_dir = self._tmpdir
        else:
            ca_dir = self._ca_dir_arg
            ca_dir.mkdir(parents=True, exist_ok=True)
        self.ca_pem_path = ca_dir / "fake-arm-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem_path))
        self._server = _Server(("127.0.0.1", 0), _Handler, ctx, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-arm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "FakeArm":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences ----------------------------------------------------------------------------
    def credential(self) -> StaticTokenCredential:
        return StaticTokenCredential(self.expected_token or "fake-arm-token")

    def writes(self, *, include_faulted: bool = False) -> list[RequestRecord]:
        """PUT/PATCH/DELETE and non-read-only POSTs, in order (fault-answered ones left out)."""
        return [r for r in self.requests if r.is_write and (include_faulted or r.fault is None)]

    # -- request processing (called from handler threads) ----------------------------------------
    def _dispatch(self, rec: RequestRecord, authorization: str | None, body: Any) -> Reply:
        try:
            auth_error = self._check_auth(authorization)
            if auth_error is not None:
                return auth_error.reply()
            if not rec.query.get("api-version"):
                return ArmError(
                    400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
                ).reply()
            fault = self.faults.before(rec)
            if fault is not None:
                rec.fault = fault.status
                return fault.to_error(self.lro_settings.format_retry_after(0)).reply()
            if body is _JSON_ERROR:
                return ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.").reply()
            with self.resources.lock:
                reply = self.resources.handle(rec.method, rec.path, rec.query, body)
            late = self.faults.after(rec)
            if late is not None:
                rec.fault = late.status
                return late.to_error(self.lro_settings.format_retry_after(0)).reply()
            return reply
        except Exception:  # noqa: BLE001 - a bug in the fake must show up, not hang the client
            self.internal_errors.append(traceback.format_exc())
            return ArmError(500, "FakeArmInternalError", "The fake ARM crashed; see FakeArm.internal_errors.").reply()

    def _check_auth(self, authorization: str | None) -> ArmError | None:
        challenge = {
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
            'error="invalid_token", error_description="The authentication failed."'
        }
        if not authorization:
            return ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", headers=challenge)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                headers=challenge,
            )
        if self.expected_token is not None and token.strip() != self.expected_token:
            return ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=challenge)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, ssl_ctx: ssl.SSLContext, fake: FakeArm) -> None:
        super().__init__(addr, handler)
        self.ssl_ctx = ssl_ctx
        self.fake = fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the per-connection thread, not in the accept loop. TCP_NODELAY (and the
        # handler's buffered writes) avoid the 40 ms Nagle/delayed-ACK stall per request.
        request.settimeout(30)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = re.sub(r"/+", "/", parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = _JSON_ERROR
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        rec = fake.requests.new(self.command, path, query, raw.decode("utf-8", "replace") if body is _JSON_ERROR else body, headers)
        reply = fake._dispatch(rec, self.headers.get("Authorization"), body)
        rec.status, rec.response = reply.status, reply
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None or self.command == "HEAD" else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-correlation-request-id", self.headers.get("x-ms-client-request-id", str(uuid.uuid4())))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _serve
