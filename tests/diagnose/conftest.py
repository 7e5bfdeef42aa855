"""Fixtures for diagnose: ``world`` is a healthy deployment on the fakes (see :mod:`tests.diagnose.world`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.diagnose.world import TOKEN, World, add_hub, build
from tests.fakes.base.fixtures import allow_localhost, stop_all, write_ca_bundle
from tests.fakes.hub import FakeHub
from tests.fakes.kube import FakeKube
from tests.fakes.registry import FakeRegistry


@pytest.fixture
def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., World]]:
    started: list[object] = []
    allow_localhost(monkeypatch)
    for name in list(os.environ):
        if name.startswith("JHUBCTL_"):
            monkeypatch.delenv(name)

    def make(name: str = "world", *, users: int = 3, arch: str = "amd64", hub: dict[str, object] | None = None,
             **kube_kwargs: object) -> World:
        kube = FakeKube(ca_dir=tmp_path / f"{name}-kube-ca", **kube_kwargs).start()  # type: ignore[arg-type]
        registry = FakeRegistry(ca_dir=tmp_path / f"{name}-registry-ca").start()
        started.extend([kube, registry])
        kube.controllers.settle = 0
        bundle = write_ca_bundle(tmp_path / f"{name}-ca.pem", [registry.ca_pem])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        made = build(tmp_path / name, kube, registry, users=users, arch=arch)
        if hub is not None:
            fake_hub = FakeHub(**{"token": TOKEN, **hub}).start()  # type: ignore[arg-type]
            started.append(fake_hub)
            add_hub(made, fake_hub, users)
        return made

    yield make
    stop_all(started, "a fake")


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


@pytest.fixture
def hub_world(make_world: Callable[..., World]) -> World:
    """The healthy world with its hub: a fake JupyterHub API behind the recorded URL."""
    return make_world("hub-world", hub={})
