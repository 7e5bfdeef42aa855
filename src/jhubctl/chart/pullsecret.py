"""The image pull secret of service-principal mode (managed identity needs none: the kubelet has AcrPull).

The seed created it by hand after the install and without a namespace, so the release's pods could not
use it. Here it is made in the release namespace before helm runs, and only when missing or for another
registry or principal: a new client secret is minted only then, so a re-run adds no password.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from ..config import Loaded
from ..kube.client import KubeClient

NAME = "acr-pull"
TYPE = "kubernetes.io/dockerconfigjson"
Credentials = Callable[[], tuple[str, str]]


def service_principal_credentials(loaded: Loaded) -> tuple[str, str]:
    """(client id, a client secret) of the service principal provision made (the Azure core mints it)."""
    from ..azure.principal import pull_credential

    credential = pull_credential(loaded)
    return credential.client_id, credential.secret


def manifest(namespace: str, server: str, username: str, password: str) -> dict[str, Any]:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    config = {"auths": {server: {"username": username, "password": password, "auth": auth}}}
    return {
        "apiVersion": "v1", "kind": "Secret", "type": TYPE,
        "metadata": {"name": NAME, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "jhubctl"}},
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def login(secret: dict[str, Any] | None, server: str) -> tuple[str | None, str | None]:
    """The (user name, password) the secret logs in to ``server`` with, if it is a pull secret for it."""
    if secret is None or secret.get("type") != TYPE:
        return None, None
    try:
        config = json.loads(base64.b64decode((secret.get("data") or {}).get(".dockerconfigjson", "")))
    except ValueError:
        return None, None
    entry = (config.get("auths") or {}).get(server) or {}
    return entry.get("username"), entry.get("password")


def holder(secret: dict[str, Any] | None, server: str) -> str | None:
    """The user name the secret logs in to ``server`` with, if it is a pull secret for it."""
    return login(secret, server)[0]


def ensure(kube: KubeClient, namespace: str, server: str, username: str | None, credentials: Credentials) -> str:
    """``unchanged`` when the secret already logs ``username`` in to ``server``; else mint and write it."""
    live = kube.get("Secret", NAME, namespace)
    if username is not None and holder(live, server) == username:
        return "unchanged"
    client_id, password = credentials()
    body = manifest(namespace, server, client_id, password)
    if live is None:
        kube.create("Secret", body, namespace)
        return "created"
    kube.replace("Secret", NAME, body, namespace)  # type is immutable: a replaced pull secret keeps it
    return "updated"
