"""Notebooks are written without nbformat (it costs a second per exec), so nbformat's schema checks them here."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from jhubctl.hubapi.notebook import append_cell, cap_outputs, code_cell, new_notebook

OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": "hi\n"},
    {"output_type": "stream", "name": "stderr", "text": "careful\n"},
    {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}, "metadata": {}},
    {"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}, "execution_count": 1},
    {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\x1b[31mE\x1b[0m: v"]},
]


def valid(notebook: dict) -> nbformat.NotebookNode:
    """What the contents API would store: JSON through and through, then nbformat's own validation."""
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    nbformat.validate(node)
    return node


def test_a_new_notebook_with_every_kind_of_output_is_valid() -> None:
    nb = append_cell(None, code_cell("x", 1, OUTPUTS))
    node = valid(nb)
    assert node.nbformat == 4 and node.nbformat_minor == 5
    assert node.metadata.kernelspec.name == "python3"
    assert [o.output_type for o in node.cells[0].outputs] == [o["output_type"] for o in OUTPUTS]


@pytest.mark.parametrize("status", ["timeout", "interrupted", "died", "output_dropped", "error"])
def test_a_cell_keeps_how_it_ended_in_its_metadata(status: str) -> None:
    node = valid(append_cell(new_notebook(), code_cell("x", None, [], status=status)))
    assert node.cells[0].metadata["jhubctl"] == {"status": status}
    assert node.cells[0].execution_count is None


def test_an_ok_cell_has_no_jhubctl_metadata() -> None:
    assert valid(append_cell(None, code_cell("x", 2, [])))["cells"][0].metadata == {}


def test_cells_get_distinct_ids() -> None:
    nb = None
    for n in range(50):
        nb = append_cell(nb, code_cell(f"x = {n}", n + 1, []))
    assert len({c["id"] for c in valid(nb).cells}) == 50


@pytest.mark.parametrize("minor", [0, 4])
def test_an_older_v4_notebook_from_another_client_is_upgraded_to_stay_valid(minor: int) -> None:
    """A 4.0-4.4 notebook must not get a cell with an id (invalid before 4.5): every cell gets one."""
    old = nbformat.v4.new_notebook()
    old.nbformat_minor = minor
    old.cells.append(nbformat.v4.new_markdown_cell("# notes"))
    for cell in old.cells:
        cell.pop("id", None)
    raw = json.loads(nbformat.writes(old, version=4))
    node = valid(append_cell(raw, code_cell("print(1)", 1, OUTPUTS[:1])))
    assert node.nbformat_minor == 5 and [c.cell_type for c in node.cells] == ["markdown", "code"]


def test_a_v3_notebook_is_refused_rather_than_corrupted() -> None:
    with pytest.raises(ValueError, match="nbformat 3"):
        append_cell({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}, code_cell("x", 1, []))


# --- the per-cell output cap ----------------------------------------------------------------------


def test_outputs_within_the_limit_are_kept_whole() -> None:
    kept, cut = cap_outputs(copy.deepcopy(OUTPUTS), 100_000)
    assert kept == OUTPUTS and cut is False


def test_zero_means_no_limit() -> None:
    big = [{"output_type": "stream", "name": "stdout", "text": "x" * 1_000_000}]
    assert cap_outputs(big, 0) == (big, False)


def test_a_long_stream_is_cut_to_the_limit_and_the_cell_says_so() -> None:
    big = [{"output_type": "stream", "name": "stdout", "text": "x" * 100_000}, OUTPUTS[2]]
    kept, cut = cap_outputs(big, 10_000)
    assert cut is True
    assert kept[0]["text"] == "x" * len(kept[0]["text"]) and 9_000 < len(kept[0]["text"]) <= 10_000
    note = kept[-1]
    assert note["output_type"] == "stream" and note["name"] == "stderr"
    assert "output cut here" in note["text"] and "10000" in note["text"] and "servers.cell_output_limit" in note["text"]
    assert all(o["output_type"] != "display_data" for o in kept)  # what came after the cut is dropped
    node = valid(append_cell(None, code_cell("print('x' * 100_000)", 1, big, limit=10_000)))
    assert len(json.dumps(node.cells[0].outputs)) < 11_000


def test_a_cut_never_splits_a_multibyte_character() -> None:
    kept, _ = cap_outputs([{"output_type": "stream", "name": "stdout", "text": "é" * 10_000}], 5_001)
    kept[0]["text"].encode("utf-8")  # would raise on a lone surrogate or broken sequence
    assert set(kept[0]["text"]) == {"é"}


def test_an_image_that_does_not_fit_is_replaced_by_the_note() -> None:
    image = {"output_type": "display_data", "data": {"image/png": "A" * 50_000}, "metadata": {}}
    kept, cut = cap_outputs([OUTPUTS[0], image], 1_000)
    assert cut and kept[0] == OUTPUTS[0] and "output cut here" in kept[1]["text"] and len(kept) == 2


def test_the_callers_outputs_are_not_changed_by_the_cap() -> None:
    big = [{"output_type": "stream", "name": "stdout", "text": "x" * 100_000}]
    code_cell("x", 1, big, limit=1_000)
    assert len(big[0]["text"]) == 100_000
