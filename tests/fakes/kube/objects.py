"""Objects a real cluster holds, to seed a :class:`~tests.fakes.kube.server.FakeKube` with.

Each function returns a fresh deep copy: a test may change or seed it without touching anyone else's.
"""

from __future__ import annotations

import copy
from typing import Any

#: The name of the blob CSI driver AKS installs (``az aks create/update --enable-blob-driver``).
BLOB_CSI_DRIVER = "blob.csi.azure.com"

_AKS_BLOB_CSIDRIVER: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "CSIDriver",
    "metadata": {
        "name": BLOB_CSI_DRIVER,
        "labels": {"addonmanager.kubernetes.io/mode": "Reconcile", "kubernetes.io/cluster-service": "true"},
        "annotations": {
            "csiDriver": "v1.24.3",
            "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"storage.k8s.io/v1","kind":"CSIDriver"}',
        },
    },
    "spec": {
        "attachRequired": False,
        "podInfoOnMount": True,
        "fsGroupPolicy": "ReadWriteOnceWithFSType",
        "volumeLifecycleModes": ["Persistent", "Ephemeral"],
        "tokenRequests": [{"audience": "api://AzureADTokenExchange"}],
        "requiresRepublish": True,
        "storageCapacity": False,
        "seLinuxMount": False,
    },
}


def aks_blob_csidriver(**spec_overrides: Any) -> dict[str, Any]:
    """The blob CSIDriver as AKS installs it (``--enable-blob-driver``), with the default fsGroupPolicy.

    Includes what the seed's hand-written manifest drops (the add-on manager's annotations,
    ``storageCapacity``, ``seLinuxMount``), so a test can check that they survive. ``spec_overrides``
    replace fields of ``spec``. No server-set metadata (uid, resourceVersion): seeding adds those.
    """
    obj = copy.deepcopy(_AKS_BLOB_CSIDRIVER)
    obj["spec"].update(copy.deepcopy(spec_overrides))
    return obj
