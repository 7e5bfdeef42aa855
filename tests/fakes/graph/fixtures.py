"""pytest fixtures for the fake Microsoft Graph.

Import them into a ``conftest.py``::

    from tests.fakes.graph.fixtures import fake_graph, fake_graph_factory  # noqa: F401

``fake_graph`` is a started :class:`FakeGraph`; ``fake_graph_factory(**kwargs)`` starts more (or
with other settings, e.g. ``ca=`` to share a CA, ``expected_token=``). For the test's duration
``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` point at one bundle: every started fake Graph's CA plus
whatever ``REQUESTS_CA_BUNDLE`` held before (the fake ARM fixture sets it to its CAs — request
``fake_arm`` *before* ``fake_graph``, as the ARM fixture overwrites the variable). A plain
``httpx.Client()`` (which reads ``SSL_CERT_FILE`` instead of certifi) then trusts the fakes and no real
host, as does code passing ``verify=os.environ["REQUESTS_CA_BUNDLE"]`` and anything using OpenSSL's
default paths. ``NO_PROXY`` gains 127.0.0.1. The test fails if a fake crashed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ..base.fixtures import fake_factory, write_ca_bundle
from .server import FakeGraph


@pytest.fixture
def fake_graph_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeGraph]]:
    inherited: list[str] = []

    def trust(started: list[FakeGraph]) -> None:
        if not inherited:  # what REQUESTS_CA_BUNDLE held before this fixture first touched it
            other = os.environ.get("REQUESTS_CA_BUNDLE")
            inherited.append(Path(other).read_text() if other and Path(other).is_file() else "")
        bundle = write_ca_bundle(tmp_path / "fake-graph-ca-bundle.pem", [*(f.ca_pem for f in started), inherited[0]])
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # a superset of what it held: ARM clients still work

    yield from fake_factory(FakeGraph, tmp_path, monkeypatch, "the fake Graph", trust)


@pytest.fixture
def fake_graph(fake_graph_factory: Callable[..., FakeGraph]) -> FakeGraph:
    return fake_graph_factory()
