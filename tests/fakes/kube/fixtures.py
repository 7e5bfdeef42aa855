"""pytest fixtures for the fake Kubernetes API.

Import them into a ``conftest.py``::

    from tests.fakes.kube.fixtures import fake_kube, fake_kube_factory, kubeconfig  # noqa: F401

``fake_kube`` is a started :class:`FakeKube` with default settings (Kubernetes v1.28.5, HTTPS);
``fake_kube_factory(**kwargs)`` starts one with other settings (``git_version="v1.29.2"``,
``immutable_fields=...``, ``tls=False`` ...). ``kubeconfig`` is the path of a kubeconfig for
``fake_kube`` with the context ``fake``. The fakes stop after the test, which fails if a fake itself
crashed (``FakeKube.internal_errors``). ``NO_PROXY`` gets 127.0.0.1 so that a proxy configured in the
environment (the kubernetes client reads ``HTTPS_PROXY``) cannot swallow the requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from ..base.fixtures import fake_factory
from .server import FakeKube


@pytest.fixture
def fake_kube_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeKube]]:
    yield from fake_factory(FakeKube, tmp_path, monkeypatch, "the fake Kubernetes API")


@pytest.fixture
def fake_kube(fake_kube_factory: Callable[..., FakeKube]) -> FakeKube:
    return fake_kube_factory()


@pytest.fixture
def kubeconfig(fake_kube: FakeKube, tmp_path: Path) -> Path:
    return fake_kube.write_kubeconfig(tmp_path / "kubeconfig", "fake")
