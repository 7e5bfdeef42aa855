"""`servers.notebook_name`: exec and the library append to the configured notebook, so jhubctl and the
guide's client (which overwrites `<conversation>.ipynb` with one cell per call) can be kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jhubctl.config import ConfigError, parse_config
from jhubctl.interpreter import Interpreter
from tests.assistant.conftest import RunningHub

pytestmark = pytest.mark.hub


def test_the_default_is_the_guides_name() -> None:
    assert parse_config({}).servers.notebook_name == "{conversation}.ipynb"


@pytest.mark.parametrize("bad", ["{user}.ipynb", "notes.txt", "sub/{conversation}.ipynb", ".{conversation}.ipynb", "{0}.ipynb"])
def test_bad_names_are_refused_naming_the_key(bad: str) -> None:
    with pytest.raises(ConfigError, match="servers.notebook_name"):
        parse_config({"servers": {"notebook_name": bad}})


def test_exec_and_the_library_use_the_configured_name(cli, running_hub: RunningHub, tmp_path: Path) -> None:
    config = tmp_path / "named.yaml"
    config.write_text('target: local\nservers:\n  notebook_name: "{conversation}-jhubctl.ipynb"\n')
    env = ["--config", str(config), "--state-dir", str(running_hub.loaded.state_dir)]
    code, out, err = cli(*env, "exec", "nb_user", "c1", "--code", "print('from exec')")
    assert code == 0, err
    with running_hub.client() as hub, Interpreter(hub, "nb_user", "c1", notebook_name="{conversation}-jhubctl.ipynb") as it:
        assert it.execute("print('from the library')").stdout == "from the library\n"
    folder = running_hub.folder("nb_user", "c1")
    notebook = json.loads((folder / "c1-jhubctl.ipynb").read_text())
    assert ["".join(c["source"]) for c in notebook["cells"]] == ["print('from exec')", "print('from the library')"]
    assert [c["execution_count"] for c in notebook["cells"]] == [1, 2]  # one kernel, keyed by that notebook
    assert not (folder / "c1.ipynb").exists()
