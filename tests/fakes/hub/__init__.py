"""A fake JupyterHub REST API (4.0.2 shapes) for tests that need thousands of users or a broken hub."""

from .server import FakeHub

__all__ = ["FakeHub"]
