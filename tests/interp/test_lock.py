"""The interpreter lock: resolved by the real uv from PyPI, deterministic, resolved again only when its input changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jhubctl.config import parse_config
from jhubctl.errors import ConfigError, JhubctlError
from jhubctl.packages import LockInput, describe, ensure_lock, lock_path, read_lock
from jhubctl.packages import uv
from tests.interp.support import AS_OF, TINY, load


def test_uv_command_lines() -> None:
    assert uv.compile_argv("/bin/uv", python="3.11", exclude_newer=None) == [
        "/bin/uv", "pip", "compile", "requirements.in", "--output-file", "requirements.txt", "--generate-hashes",
        "--universal", "--python-version", "3.11", "--no-header", "--quiet",
    ]
    assert uv.compile_argv("uv", python="3.12", exclude_newer="2025-06-01")[-2:] == ["--exclude-newer", "2025-06-01"]
    assert uv.venv_argv("uv", Path("/s/envs/.k.building"), "/usr/bin/python3.11") == [
        "uv", "venv", "/s/envs/.k.building", "--python", "/usr/bin/python3.11", "--relocatable", "--no-project",
        "--quiet",
    ]
    assert uv.sync_argv("uv", Path("/s/requirements.lock"), Path("/s/envs/.k.building")) == [
        "uv", "pip", "sync", "/s/requirements.lock", "--python", "/s/envs/.k.building/bin/python",
        "--require-hashes", "--compile-bytecode",
    ]


def test_the_default_set_is_the_seeds_with_pypdf_and_ipykernel() -> None:
    requirements = parse_config({}).interpreter.requirements
    assert requirements == ["numpy", "pandas", "matplotlib", "openpyxl", "pypdf", "scipy", "seaborn", "faker",
                            "scikit-learn", "ipykernel"]
    inputs = LockInput.of(parse_config({}))
    # the server's own packages come with the hub's JupyterHub, whatever the user lists
    assert inputs.requirements[-2:] == ("jupyterhub==4.0.2", "jupyter-server>=2,<3")
    assert inputs.jupyterhub == "4.0.2"


def test_input_digest_ignores_order_and_case_but_not_content() -> None:
    def digest(requirements: list[str], **more: str) -> str:
        return LockInput.of(parse_config({"interpreter": {"requirements": requirements, **more}})).digest

    assert digest(["pandas", "numpy"]) == digest(["NumPy", "pandas"])
    assert digest(["pandas"]) != digest(["pandas", "numpy"])
    assert digest(["pandas"]) != digest(["pandas"], python="3.12")
    assert digest(["pandas"]) != digest(["pandas"], exclude_newer="2025-01-01")


@pytest.mark.parametrize("entry", ["--index-url https://evil.example/simple", "-r other.txt", "-e .", "pandas numpy",
                                   "pandas\nnumpy", ""])
def test_requirements_refuse_options_and_files(entry: str) -> None:
    with pytest.raises(ConfigError, match="interpreter.requirements"):
        parse_config({"interpreter": {"requirements": [entry]}})


def test_an_unknown_chart_version_has_no_jupyterhub_to_pin() -> None:
    with pytest.raises(ConfigError, match="hub.chart_version"):
        LockInput.of(parse_config({"hub": {"chart_version": "9.9.9"}}))


def test_same_input_gives_the_same_lock(tmp_path: Path) -> None:
    first, resolved_first = ensure_lock(load(tmp_path / "a", TINY))
    second, resolved_second = ensure_lock(load(tmp_path / "b", TINY))
    assert resolved_first and resolved_second
    assert first.path != second.path
    assert first.text == second.text and first.sha256 == second.sha256

    # what the lock holds: exact pins, each with its hashes, and the hub's JupyterHub
    pins = first.pins()
    assert pins["jupyterhub"] == "4.0.2" and "ipykernel" in pins and "jupyter-server" in pins
    assert first.jupyterhub == "4.0.2" and first.python == "3.11"
    body = first.text.split("\n\n", 1)[1]
    for block in re.split(r"\n(?=\S)", body.strip()):
        if block.startswith("#"):
            continue
        assert re.match(r"^[A-Za-z0-9._-]+==\S+", block), block
        assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"
    assert f"# exclude-newer: {AS_OF}" in first.text


def test_unchanged_input_never_touches_the_lock_and_a_change_keeps_the_old_pins(tmp_path: Path) -> None:
    old = "interpreter:\n  requirements: [iniconfig]\n  exclude_newer: '2024-06-01'\n"
    lock, resolved = ensure_lock(load(tmp_path, old))
    assert resolved and lock.pins()["iniconfig"] == "2.0.0"
    stamp = lock.path.stat().st_mtime_ns

    again, resolved = ensure_lock(load(tmp_path, old))
    assert not resolved and again.text == lock.text and lock.path.stat().st_mtime_ns == stamp

    # a new package, and no date limit any more: uv keeps the pins the new input allows
    # (iniconfig 2.0.0, although newer releases exist), so adding a package upgrades nothing else
    new = "interpreter:\n  requirements: [iniconfig, six]\n"
    changed, resolved = ensure_lock(load(tmp_path, new))
    assert resolved and changed.path == lock.path
    assert changed.pins()["iniconfig"] == "2.0.0" and "six" in changed.pins()
    assert describe(load(tmp_path, new))["state"] == "current"
    assert describe(load(tmp_path, old))["state"].startswith("stale")


def test_a_lock_file_kept_with_the_config(tmp_path: Path) -> None:
    loaded = load(tmp_path, TINY + "  lock_file: locks/interpreter.lock\n")
    assert lock_path(loaded) == tmp_path / "locks" / "interpreter.lock"
    lock, resolved = ensure_lock(loaded)
    assert resolved and lock.path == tmp_path / "locks" / "interpreter.lock"
    assert not (loaded.state_dir / "interpreter" / "requirements.lock").exists()
    # a committed lock for the same input is used as it is
    assert ensure_lock(load(tmp_path, TINY + "  lock_file: locks/interpreter.lock\n")) == (lock, False)


def test_a_foreign_file_at_lock_file_is_refused_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pandas==2.0.0\n")
    loaded = load(tmp_path, TINY + "  lock_file: requirements.txt\n")
    with pytest.raises(ConfigError, match="not a jhubctl interpreter lock"):
        ensure_lock(loaded)
    assert (tmp_path / "requirements.txt").read_text() == "pandas==2.0.0\n"


def test_an_unresolvable_requirement_fails_with_uvs_reason_and_writes_nothing(tmp_path: Path) -> None:
    loaded = load(tmp_path, "interpreter:\n  requirements: [ipykernel, jhubctl-no-such-package-x7q]\n")
    with pytest.raises(JhubctlError) as info:
        ensure_lock(loaded)
    assert "resolving the interpreter lock failed" in info.value.message
    assert "jhubctl-no-such-package-x7q" in info.value.message  # uv names the package
    assert read_lock(lock_path(loaded)) is None
    assert not list((loaded.state_dir / "interpreter").glob(".resolve-*"))  # its scratch folder is gone
