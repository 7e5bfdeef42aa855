"""The cluster's kubeconfig: jhubctl's own file in the state dir; ~/.kube/config only when asked.

A kubeconfig holds credentials, so it is written 0600 and atomically; its context is named after the
cluster so `--context` and `kubectl --context` mean the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import JhubctlError
from .state import write_private


def _parse(raw: bytes | str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise JhubctlError(f"{source} is not a valid kubeconfig: {exc}") from None
    if not isinstance(data, dict) or not data.get("contexts"):
        raise JhubctlError(f"{source} is not a valid kubeconfig (no contexts)")
    return data


def write_kubeconfig(path: Path, raw: bytes | str, context: str) -> None:
    """Save the kubeconfig with its (single) context renamed to `context` and made current."""
    data = _parse(raw, "the kubeconfig Azure returned")
    entry = data["contexts"][0]
    entry["name"] = context
    data["contexts"] = [entry]
    data["current-context"] = context
    write_private(path, yaml.safe_dump(data, sort_keys=False))


def merge_into(target: Path, source: Path) -> None:
    """Add or replace source's clusters, users and contexts in `target` (kubectl's default file)."""
    incoming = _parse(source.read_bytes(), str(source))
    existing: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    if target.exists():
        existing = _parse(target.read_bytes(), str(target)) if target.read_text().strip() else existing
    for section in ("clusters", "users", "contexts"):
        names = {item["name"] for item in incoming.get(section) or []}
        existing[section] = [i for i in existing.get(section) or [] if i["name"] not in names] + list(
            incoming.get(section) or []
        )
    existing["current-context"] = incoming["current-context"]
    write_private(target, yaml.safe_dump(existing, sort_keys=False))
