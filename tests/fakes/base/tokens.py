"""Bearer tokens shaped like Microsoft Entra ID's (unsigned JWTs), and reading their audience back.

Real ARM and Graph refuse a token issued for another service, and a token that is no JWT at all; the
fakes do the same, so tests hand out tokens with the right `aud`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

ARM_AUDIENCE = "https://management.azure.com/"
GRAPH_AUDIENCE = "https://graph.microsoft.com"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(audience: str, signature: str | None = None, **claims: Any) -> str:
    """An unsigned token for ``audience``, valid for an hour unless ``exp`` is given; other claims (``tid``,
    ``oid`` ...) as given. With every varying part given, the same token each time."""
    now = int(time.time())
    payload = {"aud": audience, "iss": "https://sts.windows.net/fake/", "iat": now, "nbf": now, "exp": now + 3600,
               "oid": str(uuid.uuid4()), **claims}
    return f"{_b64({'typ': 'JWT', 'alg': 'RS256'})}.{_b64(payload)}.{signature or uuid.uuid4().hex}"


def audience(token: str) -> str | None:
    """The ``aud`` claim, or None when ``token`` is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return str(payload.get("aud")) if isinstance(payload, dict) and payload.get("aud") else None
