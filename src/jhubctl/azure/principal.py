"""The service principal's credential for an image pull secret (service-principal mode, for deploy-hub).

With `aks.identity: managed` the kubelet identity pulls from ACR (AcrPull, granted by provision) and no
secret exists. In the seed's service-principal mode the cluster's pods pull with a docker-registry secret
holding the principal's client id and a client secret. Graph returns a secret's text only when it is
created, so each call adds one password to the application provision created, named for its purpose;
the text lives in memory only, and one process adds at most one (later calls reuse it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Loaded

PULL_SECRET_NAME = "image pull secret"
_issued: dict[str, PullCredential] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class PullCredential:
    """`docker login <registry> -u client_id -p secret`; AcrPull on the registry was granted by provision."""

    client_id: str
    secret: str = field(repr=False)


def pull_credential(loaded: Loaded) -> PullCredential:
    """The client id and a client secret of provision's service principal, for deploy-hub's pull secret."""
    from ..state import Journal
    from .credentials import graph_credential
    from .graph import Graph

    config = loaded.config
    if config.aks.identity != "service-principal":
        raise UsageError("a pull secret is needed only with aks.identity: service-principal",
                         hint="with the managed identity the kubelet pulls from the registry itself")
    identity = Journal(loaded.state_dir).get("identity")
    outputs = identity.outputs if identity is not None and identity.status == "succeeded" else {}
    if outputs.get("mode") != "service-principal":
        raise UsageError("provision has not created the service principal yet", hint="run jhubctl provision")
    app_object_id, client_id = str(outputs["app_object_id"]), str(outputs["app_id"])
    with _lock:
        if app_object_id not in _issued:
            azure = config.azure
            graph = Graph(azure.graph_endpoint, graph_credential(azure.graph_endpoint, azure.tenant_id, loaded.environ))
            try:
                secret = graph.add_password(app_object_id, f"jhubctl {config.name}: {PULL_SECRET_NAME}")
            finally:
                graph.close()
            _issued[app_object_id] = PullCredential(client_id, secret)
        return _issued[app_object_id]
