"""The conversation's notebook: every execution appended as a code cell with its real count and outputs.

Cells are built as plain nbformat 4.5 dicts, valid by construction: importing a schema validator costs
about a second, and `exec` runs dozens of times per conversation. The tests validate what this module
writes against nbformat's own schema instead.

One cell may keep at most `limit` bytes of output, so a runaway print cannot grow the notebook (which is
read and rewritten on every save) without bound; what is cut is replaced by a note saying so.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

NBFORMAT, NBFORMAT_MINOR = 4, 5
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
TRUNCATED = ("[jhubctl: output cut here: this cell's outputs are {total} bytes and a notebook cell keeps at most "
             "{limit} (servers.cell_output_limit)]\n")


def new_notebook() -> dict[str, Any]:
    return {
        "cells": [],
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def _cell_id() -> str:
    return uuid.uuid4().hex[:16]


def _upgrade(notebook: dict[str, Any]) -> dict[str, Any]:
    """A v4.0-4.4 notebook (as other clients save it) becomes 4.5: only cell ids are new in 4.5."""
    if notebook.get("nbformat") != NBFORMAT:
        raise ValueError(f"the notebook is nbformat {notebook.get('nbformat')}, not {NBFORMAT}")
    if notebook.get("nbformat_minor", 0) < NBFORMAT_MINOR:
        notebook["nbformat_minor"] = NBFORMAT_MINOR
        for cell in notebook.get("cells", []):
            cell.setdefault("id", _cell_id())
    return notebook


def _size(output: dict[str, Any]) -> int:
    return len(json.dumps(output, ensure_ascii=False).encode())


def cap_outputs(outputs: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The outputs that fit in `limit` bytes, a stream cut to fit, and a note for the rest; (outputs, cut)."""
    total = sum(_size(o) for o in outputs)
    if limit <= 0 or total <= limit:
        return outputs, False
    kept: list[dict[str, Any]] = []
    used = 0
    for output in outputs:
        size = _size(output)
        if used + size <= limit:
            kept.append(output)
            used += size
            continue
        room = limit - used
        if output["output_type"] == "stream" and room > 0:
            head = output["text"].encode()[:room].decode(errors="ignore")
            kept.append({**output, "text": head})
        kept.append({"output_type": "stream", "name": "stderr", "text": TRUNCATED.format(total=total, limit=limit)})
        return kept, True
    return kept, False  # pragma: no cover - the sum said it did not fit


def code_cell(code: str, execution_count: int | None, outputs: list[dict[str, Any]], *,
              status: str = "ok", limit: int = 0) -> dict[str, Any]:
    """A code cell; a status other than ok (timeout, interrupted, died, ...) is kept in its metadata."""
    kept, _ = cap_outputs(outputs, limit)
    metadata: dict[str, Any] = {} if status == "ok" else {"jhubctl": {"status": status}}
    return {
        "cell_type": "code",
        "execution_count": execution_count,
        "id": _cell_id(),
        "metadata": metadata,
        "outputs": kept,
        "source": code,
    }


def append_cell(notebook: dict[str, Any] | None, cell: dict[str, Any]) -> dict[str, Any]:
    """The notebook (a new one if there is none yet) with `cell` appended."""
    nb = _upgrade(notebook) if notebook is not None else new_notebook()
    nb.setdefault("cells", []).append(cell)
    return nb
