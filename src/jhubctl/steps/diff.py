"""Compare and merge REST-shaped desired state with what ARM (or Kubernetes) returns: the diff of a step's plan.

Only keys we set are compared: Azure adds defaults and read-only fields, and another tool (or the
cluster itself) may own the rest. Lists of named children (subnets, rules, pools, IP rules) are
matched by key, so someone else's child is neither a difference nor lost on update.
"""

from __future__ import annotations

import copy
from typing import Any

_KEYS = ("name", "id", "value", "service", "keyData")


def _key(items: list[Any]) -> str | None:
    for key in _KEYS:
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def _same_scalar(want: Any, have: Any) -> bool:
    if isinstance(want, str) and isinstance(have, str):
        return want.lower().replace(" ", "") == have.lower().replace(" ", "")  # ARM: case-insensitive
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have or want == have
    return str(want) == str(have) if want is not None and have is not None else want == have


def differences(want: Any, have: Any, path: str = "", exact: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths where `have` does not satisfy `want`; lists at `exact` paths must match item for item."""
    if isinstance(want, dict):
        have = have if isinstance(have, dict) else {}
        out: list[str] = []
        for key, value in want.items():
            out += differences(value, have.get(key), f"{path}.{key}" if path else key, exact)
        return out
    if isinstance(want, list):
        have = have if isinstance(have, list) else []
        key = _key(want) or _key(have)
        if path in exact and key is not None:
            names = lambda items: sorted(str(i.get(key, "")).lower() for i in items if isinstance(i, dict))  # noqa: E731
            if names(want) != names(have):
                return [path]
        if key is not None:
            index = {str(h.get(key, "")).lower(): h for h in have if isinstance(h, dict)}
            out = []
            for item in want:
                name = str(item[key]).lower()
                if name not in index:
                    out.append(f"{path}[{item[key]}]")
                else:
                    out += differences(item, index[name], f"{path}[{item[key]}]")
            return out
        if all(not isinstance(i, (dict, list)) for i in want):
            normalise = lambda xs: sorted(str(x).lower() for x in xs)  # noqa: E731
            return [] if normalise(want) == normalise(have) else [path]
        if len(want) != len(have):
            return [path]
        return [p for i, (w, h) in enumerate(zip(want, have, strict=True)) for p in differences(w, h, f"{path}[{i}]")]
    return [] if _same_scalar(want, have) else [path]


def merge(base: Any, want: Any, path: str = "", exact: tuple[str, ...] = (), owned: tuple[str, ...] = ()) -> Any:
    """`base` with `want` laid over it: dicts deep-merged, keyed lists merged by key (replaced at `exact`
    paths), other lists replaced. At `owned` paths a wanted item replaces its namesake whole: fields we
    no longer send (an NSG rule's other source field) must not survive from `base`."""
    if isinstance(want, dict) and isinstance(base, dict):
        out = copy.deepcopy(base)
        for key, value in want.items():
            out[key] = merge(base.get(key), value, f"{path}.{key}" if path else key, exact, owned)
        return out
    if isinstance(want, list) and isinstance(base, list) and path not in exact:
        key = _key(want)
        if key is not None and _key(base) == key:
            wanted = {str(i[key]).lower(): i for i in want}

            def laid(b: Any, w: Any) -> Any:
                return copy.deepcopy(w) if path in owned else merge(b, w)

            out_list = [laid(b, wanted.pop(str(b[key]).lower())) if str(b[key]).lower() in wanted else copy.deepcopy(b)
                        for b in base]
            return out_list + [copy.deepcopy(i) for i in want if str(i[key]).lower() in wanted]
    return copy.deepcopy(want)
