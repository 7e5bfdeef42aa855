"""Kubernetes access for jhubctl: one adapter (:mod:`.client`) and the steps built on it.

Importing this package does not import the ``kubernetes`` client (it is heavy); building a
:class:`KubeClient` does.
"""

from .client import KubeClient, KubeError, ServerVersion

__all__ = ["KubeClient", "KubeError", "ServerVersion"]
