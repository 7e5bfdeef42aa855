"""A fake Kubernetes API server that the official ``kubernetes`` Python client talks to.

See :class:`FakeKube` for the endpoint and kubeconfig, :mod:`.store` for the API semantics it keeps,
:class:`Faults` for fault injection and :mod:`tests.fakes.kube.fixtures` for the pytest fixtures.
"""

from .common import FieldError, KubeStatusError, RequestRecord
from .faults import FaultResponse, Faults
from .registry import Registry, ResourceType, csidriver_immutable_fields, default_types
from .server import FakeKube
from .store import ObjectStore

__all__ = [
    "FakeKube",
    "FaultResponse",
    "Faults",
    "FieldError",
    "KubeStatusError",
    "ObjectStore",
    "Registry",
    "RequestRecord",
    "ResourceType",
    "csidriver_immutable_fields",
    "default_types",
]
