"""The chart's own values schema, checked before anything is sent: a typo fails here, in one line, not half-way
through a helm upgrade.

The schema (``values.schema.<version>.json``, as the chart publishes it) closes almost every object
(``additionalProperties: false``), so an unknown or misplaced key is caught. helm validates the *merge*
of the chart's defaults and the user's values; the defaults supply every ``required`` key of the chart's
own objects, so those are not asked of the values file alone. Entries named by the user
(``patternProperties``: ``extraFiles``, ``prePuller.extraImages``) have no defaults: their required keys
(and ``extraFiles``' one-of ``data``/``stringData``/``binaryData``) are checked in full. Everything else
(types, enums, unknown keys) is checked as helm would.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..errors import UsageError

#: Problems listed in the error before "and N more".
SHOWN = 3


def bundled(chart_version: str) -> dict[str, Any] | None:
    name = f"values.schema.{chart_version}.json"
    try:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def problems(values: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """``path: message`` for every violation, in path order; [] when the values fit."""
    from jsonschema import Draft7Validator, validators

    strict = Draft7Validator(schema)

    def named(validator: Any, patterns: Any, instance: Any, where: Any) -> Any:
        return Draft7Validator.VALIDATORS["patternProperties"](strict, patterns, instance, where)

    relaxed = validators.extend(Draft7Validator, {"required": lambda *args: iter(()), "patternProperties": named})
    errors = sorted(relaxed(schema).iter_errors(values), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]


def validate(values: dict[str, Any], chart_version: str) -> bool:
    """Raise a usage error naming the first problems; False when no schema is bundled for that version."""
    schema = bundled(chart_version)
    if schema is None:
        return False
    found = problems(values, schema)
    if found:
        more = f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else ""
        raise UsageError(
            f"the helm values do not fit chart {chart_version}'s schema: " + "; ".join(found[:SHOWN]) + more,
            hint="a key from hub.values_file is misspelt or misplaced (see the chart's values reference)",
        )
    return True
