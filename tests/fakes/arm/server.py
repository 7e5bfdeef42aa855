"""HTTPS transport of the fake ARM: TLS with a throw-away CA, auth, api-version, logging, faults.

azure-core refuses to send a bearer token over plain HTTP, so the fake serves HTTPS on 127.0.0.1
with a certificate from a CA made at start-up (``trustme``). Tests point ``REQUESTS_CA_BUNDLE``
at :attr:`FakeArm.ca_pem_path` (requests ignores ``SSL_CERT_FILE``) and build the real SDK
clients with ``base_url=fake.url`` and a :class:`~.credential.StaticTokenCredential`.

Checks made here, before the resource store sees a request, mirror ARM's front door: a bearer
token (401 ``AuthenticationFailed`` otherwise) that is a JWT (401 ``InvalidAuthenticationToken``) issued
for Azure Resource Manager (401 ``InvalidAuthenticationTokenAudience``, e.g. a Microsoft Graph token), and
an ``api-version`` query parameter (400 ``MissingApiVersionParameter``).
"""

from __future__ import annotations

import time
import uuid
from email.message import Message
from pathlib import Path
from typing import Any, Iterable

from ..base.server import BAD_BODY, FakeServer, Reply
from ..base.tokens import ARM_AUDIENCE, audience, jwt
from .common import ArmError, RequestRecord
from .credential import StaticTokenCredential
from .faults import FaultResponse, Faults
from .lro import LroSettings
from .store import ResourceStore


ALLOWED_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                     "https://management.azure.com/", "https://management.azure.com")


class FakeArm(FakeServer):
    """A fake Azure Resource Manager endpoint for the real azure-mgmt SDK clients.

    Use as a context manager (or ``start()``/``stop()``)::

        with FakeArm() as fake:
            os.environ["REQUESTS_CA_BUNDLE"] = str(fake.ca_pem_path)
            client = ResourceManagementClient(fake.credential(), fake.subscription_id, base_url=fake.url)

    ``latency`` maps resource types (optionally ``"type:create|update|delete"``) to seconds an
    operation stays in progress (for synchronous types, resource groups and role assignments, the seconds
    before a PUT is answered); see :class:`~.lro.LroSettings`.
    """

    name = "fake-arm"
    record_class = RequestRecord
    json_content_type = "application/json; charset=utf-8"

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
        replication_lag: int = 0,
        expected_token: str | None = None,
        ca_dir: Path | str | None = None,
    ) -> None:
        super().__init__(ca_dir=ca_dir)
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
            replication_lag=replication_lag,
        )
        self._token = expected_token or jwt(ARM_AUDIENCE)
        #: Object id of "the operator" running jhubctl; known to the fake directory.
        self.operator_object_id = self.resources.new_principal()

    # -- conveniences ----------------------------------------------------------------------------
    def credential(self) -> StaticTokenCredential:
        return StaticTokenCredential(self._token)

    # -- request processing (called from handler threads) ----------------------------------------
    def _refuse(self, rec: RequestRecord, route: Any, authorization: str | None) -> Reply | None:
        auth_error = self._check_auth(authorization)
        if auth_error is not None:
            return auth_error.reply()
        if not rec.query.get("api-version"):
            return ArmError(
                400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
            ).reply()
        return None

    def _handle(self, rec: RequestRecord, route: Any, body: Any) -> Reply:
        if body is BAD_BODY:
            return ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.").reply()
        delay = self.resources.sync_latency(rec.method, rec.path)
        if delay:
            time.sleep(delay)
        with self.resources.lock:
            return self.resources.handle(rec.method, rec.path, rec.query, body)

    def _fault_error(self, fault: FaultResponse) -> ArmError:
        return fault.to_error(self.lro_settings.format_retry_after(0))

    def _crash_reply(self) -> Reply:
        return ArmError(500, "FakeArmInternalError", "The fake ARM crashed; see FakeArm.internal_errors.").reply()

    def _reply_headers(self, request_headers: Message, reply: Reply) -> dict[str, str]:
        return {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-correlation-request-id": request_headers.get("x-ms-client-request-id", str(uuid.uuid4())),
        }

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
        aud = audience(token.strip())
        if aud is None:
            return ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=challenge)
        if aud not in ALLOWED_AUDIENCES:
            allowed = ",".join(f"'{a}'" for a in ALLOWED_AUDIENCES)
            return ArmError(401, "InvalidAuthenticationTokenAudience", f"The access token has been obtained for wrong "
                            f"audience or resource '{aud}'. It should exactly match with one of the allowed audiences "
                            f"{allowed}.", headers=challenge)
        return None
