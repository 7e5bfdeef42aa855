"""Which Azure credential to use, per audience: a token handed in by CI, else DefaultAzureCredential.

A token is issued for one service (its `aud` claim). `JHUBCTL_AZURE_ACCESS_TOKEN` is for Azure Resource
Manager only and `JHUBCTL_GRAPH_ACCESS_TOKEN` for Microsoft Graph only: a static credential refuses a
scope of another service, so a token never travels to a service it was not issued for. Both are read
from the environment only, never from the config or argv. `azure.tenant_id` goes with every token
request of DefaultAzureCredential, as `az login --tenant` would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from ..errors import UsageError

TOKEN_ENV = "JHUBCTL_AZURE_ACCESS_TOKEN"
GRAPH_TOKEN_ENV = "JHUBCTL_GRAPH_ACCESS_TOKEN"
#: The hint for a missing or refused ARM credential.
LOGIN_HINT = f"run az login (with --tenant if azure.tenant_id is set), or export {TOKEN_ENV}"

#: Audiences (`aud` claims) by service, as Microsoft Entra ID issues them in the public and sovereign clouds.
_GRAPH_AUDIENCES = ("graph.microsoft", "microsoftgraph.", "00000003-0000-0000-c000-000000000000")
_ARM_AUDIENCES = ("management.azure", "management.core.", "management.usgovcloudapi", "management.chinacloudapi")


def claims(token: str) -> dict[str, Any]:
    """The JWT payload, unverified (only to name a mix-up early); {} for an opaque token."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _service(audience: str) -> str | None:
    low = audience.lower()
    if any(mark in low for mark in _GRAPH_AUDIENCES):
        return "Microsoft Graph"
    if any(mark in low for mark in _ARM_AUDIENCES):
        return "Azure Resource Manager"
    return None


class StaticTokenCredential:
    """azure-core's TokenCredential and SupportsTokenInfo over a bearer token obtained elsewhere, for one
    service: a scope of another endpoint is refused instead of being answered with this token."""

    def __init__(self, token: str, endpoint: str, variable: str, expires_in: int = 3600):
        self._token = token
        self._endpoint = endpoint.rstrip("/").lower()
        self._variable = variable
        self._expires_on = int(time.time()) + expires_in

    def _check(self, scopes: tuple[str, ...]) -> None:
        for scope in scopes:
            if not scope.lower().startswith(self._endpoint):
                raise UsageError(f"{self._variable} is for {self._endpoint}, not for {scope}",
                                 hint="each service needs its own token")

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self._check(scopes)
        return AccessToken(self._token, self._expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        self._check(scopes)
        return AccessTokenInfo(self._token, self._expires_on)

    def __repr__(self) -> str:  # never show the token, not even in --debug tracebacks
        return "StaticTokenCredential(<redacted>)"


class TenantCredential:
    """DefaultAzureCredential asking every token of `tenant_id` (DefaultAzureCredential itself takes none)."""

    def __init__(self, inner: Any, tenant_id: str):
        self._inner = inner
        self._tenant = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._inner.get_token(*scopes, **{**kwargs, "tenant_id": self._tenant})

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        return self._inner.get_token_info(*scopes, options={**(options or {}), "tenant_id": self._tenant})


def _static(environ: Mapping[str, str], variable: str, endpoint: str, service: str,
            tenant_id: str | None) -> StaticTokenCredential | None:
    token = environ.get(variable)
    if not token:
        return None
    found = claims(token)
    issued_for = _service(str(found.get("aud", "")))
    if issued_for is not None and issued_for != service:
        raise UsageError(f"{variable} holds a token for {issued_for} (aud {found['aud']}), not for {service}",
                         hint=f"get one for {endpoint}: az account get-access-token --resource {endpoint}")
    if tenant_id and found.get("tid") and str(found["tid"]).lower() != tenant_id.lower():
        raise UsageError(f"{variable} was issued in tenant {found['tid']}, but azure.tenant_id is {tenant_id}",
                         hint="get a token of that tenant, or correct azure.tenant_id")
    return StaticTokenCredential(token, endpoint, variable)


def _default(tenant_id: str | None) -> Any:
    import logging

    from azure.identity import DefaultAzureCredential

    # Without a handler, Python prints the credential chain's WARNING dump (14 lines) through its last
    # resort handler; jhubctl reports the failure itself, in one line.
    logging.getLogger("azure.identity").addHandler(logging.NullHandler())
    if not tenant_id:
        return DefaultAzureCredential()
    return TenantCredential(DefaultAzureCredential(additionally_allowed_tenants=[tenant_id]), tenant_id)


def arm_credential(endpoint: str, tenant_id: str | None, environ: Mapping[str, str] = os.environ) -> Any:
    """The credential for Azure Resource Manager."""
    return _static(environ, TOKEN_ENV, endpoint, "Azure Resource Manager", tenant_id) or _default(tenant_id)


def graph_credential(endpoint: str, tenant_id: str | None, environ: Mapping[str, str] = os.environ) -> Any:
    """The credential for Microsoft Graph. A pipeline that handed in an ARM token must hand in a Graph
    token too: DefaultAzureCredential would find some other identity, or none."""
    static = _static(environ, GRAPH_TOKEN_ENV, endpoint, "Microsoft Graph", tenant_id)
    if static is not None:
        return static
    if environ.get(TOKEN_ENV):
        raise UsageError(
            f"aks.identity is service-principal, which needs Microsoft Graph, and {GRAPH_TOKEN_ENV} is not set "
            f"({TOKEN_ENV} is for Azure Resource Manager only)",
            hint=f"export {GRAPH_TOKEN_ENV}=$(az account get-access-token --resource {endpoint} --query accessToken -o tsv)",
        )
    return _default(tenant_id)
