"""What `exec` hands back: image files that are never overwritten, JSON without terminal colours."""

from __future__ import annotations

import base64
import io
import os
import stat
from pathlib import Path

from jhubctl.interpreter import Result
from jhubctl.output import Environment, Output

PNG = base64.b64encode(b"\x89PNG-one").decode()
TRACEBACK = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
             "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"]


def result(count: int | None = 1, outputs: list | None = None) -> Result:
    outputs = outputs if outputs is not None else [
        {"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"}, "metadata": {}},
        {"output_type": "display_data", "data": {"image/svg+xml": ["<svg>", "</svg>"]}, "metadata": {}},
    ]
    return Result("alice", "c1", "ok", count, "", "", outputs, None, "c1.ipynb", "alice/conversations/c1", 0.1)


def test_images_after_a_kernel_restart_do_not_overwrite_earlier_ones(tmp_path: Path) -> None:
    """Execution counts start at 1 again after a restart: the same count must still give a new file."""
    first = result().save_images(tmp_path)
    before = {p: p.read_bytes() for p in first}
    second = result().save_images(tmp_path)
    assert len(first) == len(second) == 2
    assert not set(first) & set(second)
    assert {p: p.read_bytes() for p in first} == before
    assert first[0].name.startswith("c1-1-0-") and first[0].suffix == ".png"
    assert first[1].read_text() == "<svg></svg>" and first[1].suffix == ".svg"


def test_an_existing_file_with_the_chosen_name_is_never_replaced(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("secrets.token_hex", lambda n: "same")
    (tmp_path / "c1-1-0-same.png").write_bytes(b"keep me")
    [written, _] = result().save_images(tmp_path)
    assert (tmp_path / "c1-1-0-same.png").read_bytes() == b"keep me"
    assert written.name == "c1-1-0-same-2.png" and written.read_bytes() == b"\x89PNG-one"


def test_image_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        paths = result().save_images(tmp_path / "outputs")
    finally:
        os.umask(old)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    assert stat.S_IMODE((tmp_path / "outputs").stat().st_mode) == 0o700


def test_json_tracebacks_carry_no_ansi_colours() -> None:
    error = {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": TRACEBACK}
    r = result(outputs=[{"output_type": "error", **error}])
    r.error = error
    plain = r.as_dict(colour=False)
    assert plain["error"]["traceback"][1] == "ZeroDivisionError: division by zero"
    assert "\x1b" not in repr(plain)
    assert r.as_dict()["error"]["traceback"] == TRACEBACK  # the notebook keeps Jupyter's colours
    assert r.outputs[0]["traceback"] == TRACEBACK


def test_a_table_never_cuts_the_url_column_even_on_a_narrow_terminal() -> None:
    out = io.StringIO()
    url = "http://127.0.0.1:46543/user/alice-with-a-long-name/conversation-with-a-long-id/"
    Output(Environment(stdout=out, environ={"COLUMNS": "40"}), color=True).table(
        ["USER", "CONVERSATION", "URL"], [["alice-with-a-long-name", "conversation-with-a-long-id", url]], whole=["URL"])
    assert url in out.getvalue()
