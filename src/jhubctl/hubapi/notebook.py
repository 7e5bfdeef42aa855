"""The conversation's notebook: every execution appended as a code cell with its real count and outputs."""

from __future__ import annotations

from typing import Any


def new_notebook() -> dict[str, Any]:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def append_cell(notebook: dict[str, Any] | None, code: str, execution_count: int | None, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the notebook with one more code cell; validated, since a broken notebook is lost work for the user."""
    import nbformat

    nb: Any = nbformat.from_dict(notebook) if notebook is not None else new_notebook()
    cell = nbformat.v4.new_code_cell(source=code, execution_count=execution_count)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells.append(cell)
    nbformat.validate(nb)
    return nb
