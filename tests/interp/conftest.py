"""Fixtures for tests/interp (helpers and the tiny input are in support.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interp.support import make_private_dir, make_public_dir


@pytest.fixture
def public_dir() -> Iterator[Path]:
    path = make_public_dir("jhubctl-interp-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A folder only root may search (0700, as /root is), in a public one."""
    public, private = make_private_dir("jhubctl-interp-")
    yield private
    shutil.rmtree(public, ignore_errors=True)
