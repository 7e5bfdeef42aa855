"""A fake container registry with Azure Container Registry's token exchange (see :mod:`.server`)."""

from .server import FakeRegistry

__all__ = ["FakeRegistry"]
