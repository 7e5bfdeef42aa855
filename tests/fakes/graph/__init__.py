"""A fake Microsoft Graph (v1.0) over HTTPS for jhubctl's service-principal mode.

See :class:`FakeGraph` for the endpoint and :mod:`tests.fakes.graph.fixtures` for the pytest fixtures.
"""

from .server import ERRORS, Directory, FakeGraph, Faults, GraphError, RequestRecord

__all__ = ["ERRORS", "Directory", "FakeGraph", "Faults", "GraphError", "RequestRecord"]
