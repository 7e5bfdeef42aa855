"""The cache of validated config values: the same values and errors as a validation, and stale never.

The server commands read a cached config without pydantic (docs/benchmarks.md). Each test here loads
twice, through `load_config` as every command does, and tells a hit from a miss by whether the models
ran at all.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jhubctl import config_file
from jhubctl.config import load_config, parse_config
from jhubctl.config_file import CACHE_FILE, Values
from jhubctl.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Every validation the loader runs (a hit runs none)."""
    calls: list[Path | None] = []
    real = config_file._validate

    def spy(path: Path | None, raw: bytes | None, environ: Any) -> Any:
        calls.append(path)
        return real(path, raw, environ)

    monkeypatch.setattr(config_file, "_validate", spy)
    return calls


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config with every key (config.example.yaml) and an existing state dir beside it."""
    (tmp_path / ".jhubctl").mkdir(mode=0o700)
    path = tmp_path / "jhubctl.yaml"
    path.write_bytes((REPO_ROOT / "config.example.yaml").read_bytes())
    return path


def same_values(values: Values, model: BaseModel, where: str = "") -> None:
    """Field for field, value and type: a cached float stays a float, a path a Path."""
    for name in type(model).model_fields:
        expected, got = getattr(model, name), getattr(values, name)
        if isinstance(expected, BaseModel):
            same_values(got, expected, f"{where}{name}.")
        else:
            assert got == expected and type(got) is type(expected), f"{where}{name}: {got!r} != {expected!r}"


ENVIRON = {"JHUBCTL_HUB_URL": "http://hub.example:8000", "JHUBCTL_KUBECONFIG": "/tmp/kube/config",
           "JHUBCTL_API_TOKEN": "s3cret-token-value"}


def test_a_second_load_takes_the_cache_and_gives_the_models_values(project: Path, validations: list) -> None:
    first = load_config(project, environ=ENVIRON)
    second = load_config(project, environ=ENVIRON)
    assert validations == [project]  # the second load validated nothing
    assert second.values == first.values
    model = parse_config(json.loads(json.dumps(first.config.model_dump(mode="json"))))  # independent of the cache
    same_values(second.values, first.config)
    same_values(second.values, model)
    assert second.values.kubernetes.kubeconfig == Path("/tmp/kube/config")  # an override, typed as the model types it
    assert second.values.hub.url == "http://hub.example:8000"


def test_the_model_after_a_hit_is_validated_from_the_bytes_the_values_came_from(project: Path,
                                                                               validations: list) -> None:
    first = load_config(project, environ={})
    hit = load_config(project, environ={})
    project.write_text("servers:\n  exec_timeout: 5\n")  # changed after the hit was read
    assert hit.config == first.config and hit.config.servers.exec_timeout == first.config.servers.exec_timeout
    assert validations == [project, project]  # the miss, then the model asked for after the hit


EDITS = {
    "the file's bytes": lambda path, env: (path.write_text(path.read_text() + "\n# a comment\n"), env)[1],
    "a value in the file": lambda path, env: (path.write_text("servers:\n  exec_timeout: 7\n"), env)[1],
    "an environment override": lambda path, env: {**env, "JHUBCTL_HUB_URL": "http://other.example"},
    "an override that is removed": lambda path, env: {k: v for k, v in env.items() if k != "JHUBCTL_KUBECONFIG"},
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_any_change_to_the_input_is_a_miss(project: Path, validations: list, edit: str) -> None:
    load_config(project, environ=ENVIRON)
    environ = EDITS[edit](project, dict(ENVIRON))
    changed = load_config(project, environ=environ)
    assert validations == [project, project]
    same_values(changed.values, changed.config)
    assert load_config(project, environ=environ).values == changed.values and len(validations) == 2  # cached again


def test_the_same_bytes_under_another_path_are_a_miss(project: Path, validations: list) -> None:
    """Error messages name the file, and the default state dir is beside it."""
    state = project.parent / ".jhubctl"
    load_config(project, state, environ={})
    other = project.parent / "copy.yaml"
    other.write_bytes(project.read_bytes())
    assert load_config(other, state, environ={}).path == other
    assert validations == [project, other]


def test_a_change_to_the_models_code_is_a_miss(project: Path, validations: list, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "config.py"
    models.write_bytes(config_file.MODELS.read_bytes())
    monkeypatch.setattr(config_file, "MODELS", models)
    load_config(project, environ={})
    models.write_bytes(models.read_bytes() + b"\n# a new default, say\n")
    load_config(project, environ={})
    assert validations == [project, project]


@pytest.mark.parametrize("bad, message", [
    ("servers:\n  exec_timeout: -1\n", "'servers.exec_timeout'"),
    ("servers:\n  exec_timeout: 5\n  exec_timeout: 6\n", "key 'exec_timeout' appears twice"),
    ("servers: [\n", "not valid YAML"),
    ("servers:\n  exec_timout: 5\n", "did you mean 'exec_timeout'?"),
])
def test_an_edit_that_breaks_a_cached_config_is_refused_every_time(project: Path, bad: str, message: str) -> None:
    load_config(project, environ={})
    project.write_text(bad)
    errors = []
    for _ in range(2):  # an error is never cached, and never answered with the old values
        with pytest.raises(ConfigError) as info:
            load_config(project, environ={})
        errors.append(info.value.message)
    assert errors[0] == errors[1] and message in errors[0] and str(project) in errors[0]


def test_the_cache_is_owner_only_holds_no_secret_and_no_environment_value(project: Path) -> None:
    load_config(project, environ=ENVIRON)
    cache = project.parent / ".jhubctl" / CACHE_FILE
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    text = cache.read_text()
    assert ENVIRON["JHUBCTL_API_TOKEN"] not in text
    doc = json.loads(text)
    assert set(doc) == {"key", "values"}
    assert doc["values"]["hub"]["url"] == ENVIRON["JHUBCTL_HUB_URL"]  # a config value, as `config show` prints it
    assert text.count(ENVIRON["JHUBCTL_HUB_URL"]) == 1  # and not again in the key, which is a hash
    assert not any(p.name.endswith(".tmp") for p in cache.parent.iterdir())  # written through a temp file


@pytest.mark.parametrize("where", ["environment", "file"])
def test_a_url_with_a_password_is_never_written_down(project: Path, validations: list, where: str) -> None:
    url = "https://ops:pa55word@hub.example"
    if where == "file":
        project.write_text(f"hub:\n  url: {url}\n")
    environ = {"JHUBCTL_HUB_URL": url} if where == "environment" else {}
    for _ in range(2):
        assert load_config(project, environ=environ).values.hub.url == url
    assert not (project.parent / ".jhubctl" / CACHE_FILE).exists()
    assert len(validations) == 2


def test_loading_creates_no_state_dir(tmp_path: Path, validations: list) -> None:
    path = tmp_path / "jhubctl.yaml"
    path.write_text("servers:\n  exec_timeout: 9\n")
    for _ in range(2):
        assert load_config(path, environ={}).values.servers.exec_timeout == 9
    assert not (tmp_path / ".jhubctl").exists()
    assert len(validations) == 2  # nowhere to keep the values: both validate


@pytest.mark.parametrize("spoil", ["world-readable", "garbage", "another key", "a folder"])
def test_a_cache_that_is_not_private_whole_and_for_this_input_is_not_used(project: Path, validations: list,
                                                                         spoil: str) -> None:
    first = load_config(project, environ={})
    cache = project.parent / ".jhubctl" / CACHE_FILE
    if spoil == "world-readable":
        cache.chmod(0o644)
    elif spoil == "garbage":
        cache.write_text('{"key": ')
    elif spoil == "another key":
        doc = json.loads(cache.read_text())
        cache.write_text(json.dumps({"key": "0" * 64, "values": {**doc["values"], "target": "azure"}}))
        cache.chmod(0o600)
    else:
        cache.unlink()
        cache.mkdir(mode=0o700)
    again = load_config(project, environ={})
    assert validations == [project, project]
    assert again.values == first.values and again.values.target == "local"


def test_a_command_reads_the_cache_without_pydantic_or_yaml(project: Path) -> None:
    """What the server commands rely on, in a fresh interpreter: the first load validates, the next does not."""
    script = ("import sys; from pathlib import Path; from jhubctl.config_file import load_config; "
              f"v = load_config(Path({str(project)!r}), environ={{}}).values; "
              "print(v.servers.exec_timeout, v.target, sorted({m.split('.')[0] for m in sys.modules} & "
              "{'pydantic', 'pydantic_core', 'yaml'}), 'jhubctl.config' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}).stdout.split(" ", 2)
            for _ in range(2)]
    assert runs[0][:2] == runs[1][:2] == ["60.0", "local"]
    assert "pydantic" in runs[0][2] and runs[1][2].strip() == "[] False"
