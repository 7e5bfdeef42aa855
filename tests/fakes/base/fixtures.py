"""Helpers for the fakes' pytest fixtures: trusting their CAs, bypassing proxies, stopping them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import pytest

F = TypeVar("F")


def allow_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Add 127.0.0.1 to ``NO_PROXY``/``no_proxy`` so a configured proxy cannot swallow requests to a fake."""
    for var in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(var, "")
        if "127.0.0.1" not in current:
            monkeypatch.setenv(var, ",".join(filter(None, [current, "127.0.0.1"])))


def write_ca_bundle(path: Path, pems: Iterable[str | bytes]) -> Path:
    """Concatenate PEM certificates (each ending in a newline) into ``path``."""
    texts = (p.decode() if isinstance(p, bytes) else p for p in pems)
    path.write_text("".join(t if t.endswith("\n") or not t else t + "\n" for t in texts))
    return path


def stop_all(fakes: Iterable[Any], what: str) -> None:
    """Stop ``fakes``; fail the test if one of them crashed (``internal_errors``)."""
    fakes = list(fakes)
    for fake in fakes:
        fake.stop()
    errors = [e for fake in fakes for e in fake.internal_errors]
    assert not errors, f"{what} crashed:\n" + "\n".join(errors)


def fake_factory(
    cls: Callable[..., F],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    on_start: Callable[[list[F]], None] | None = None,
) -> Iterator[Callable[..., F]]:
    """Body of a ``fake_*_factory`` fixture (``yield from`` it): ``make(**kwargs)`` starts a fake with
    its CA in a folder of ``tmp_path``; ``on_start(started)`` runs after each start; at teardown all
    stop and the test fails if one crashed."""
    started: list[F] = []
    allow_localhost(monkeypatch)

    def make(**kwargs: Any) -> F:
        kwargs.setdefault("ca_dir", tmp_path / f"{cls.name}-{len(started)}")  # type: ignore[attr-defined]
        fake = cls(**kwargs).start()  # type: ignore[attr-defined]
        started.append(fake)
        if on_start is not None:
            on_start(started)
        return fake

    yield make
    stop_all(started, what)
