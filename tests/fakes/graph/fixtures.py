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
from typing import Any, Callable, Iterator

import pytest

from .server import FakeGraph


@pytest.fixture
def fake_graph_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeGraph]]:
    started: list[FakeGraph] = []
    inherited: list[str] = []

    def make(**kwargs: Any) -> FakeGraph:
        kwargs.setdefault("ca_dir", tmp_path / f"fake-graph-{len(started)}")
        fake = FakeGraph(**kwargs).start()
        started.append(fake)
        pems = [f.ca_pem_path.read_text() for f in started]
        bundle = tmp_path / "fake-graph-ca-bundle.pem"
        if not inherited:  # what REQUESTS_CA_BUNDLE held before this fixture first touched it
            other = os.environ.get("REQUESTS_CA_BUNDLE")
            inherited.append(Path(other).read_text() if other and Path(other).is_file() else "")
        pems.append(inherited[0])
        bundle.write_text("".join(p if p.endswith("\n") else p + "\n" for p in pems))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # a superset of what it held: ARM clients still work
        no_proxy = os.environ.get("NO_PROXY", "")
        if "127.0.0.1" not in no_proxy:
            monkeypatch.setenv("NO_PROXY", ",".join(filter(None, [no_proxy, "127.0.0.1"])))
        return fake

    yield make
    for fake in started:
        fake.stop()
    errors = [e for fake in started for e in fake.internal_errors]
    assert not errors, "the fake Graph crashed:\n" + "\n".join(errors)


@pytest.fixture
def fake_graph(fake_graph_factory: Callable[..., FakeGraph]) -> FakeGraph:
    return fake_graph_factory()
