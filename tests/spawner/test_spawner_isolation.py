"""The spawner package must work when copied alone into the hub image.

The hub image gets ``jhubctl/spawner/`` beside an empty ``jhubctl/__init__.py`` and nothing else of
jhubctl; the local target has no kubespawner. These tests check both, statically and for real.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "jhubctl" / "spawner"
MODULES = sorted(PACKAGE.glob("*.py"))


def forbidden_imports(source: str, module: str) -> list[str]:
    """Imports in `source` (module `module` of jhubctl.spawner) that the copied package cannot satisfy."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:
                problems.append(f"line {node.lineno}: relative import leaves jhubctl.spawner")
                continue
            if node.level == 1:
                continue  # inside the package
            targets = [node.module or ""]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            if top == "jhubctl" and not (target == "jhubctl.spawner" or target.startswith("jhubctl.spawner.")):
                problems.append(f"line {node.lineno}: imports {target}")
            if top == "kubespawner" and module != "kube":
                problems.append(f"line {node.lineno}: imports {target} outside kube.py")
    return problems


def test_the_checker_catches_bad_imports() -> None:
    bad = textwrap.dedent(
        """
        import jhubctl.cli
        from jhubctl.hub import client
        from .. import config
        from kubespawner import KubeSpawner
        import jhubctl.spawner.naming
        from . import naming
        """
    )
    assert forbidden_imports(bad, "local") == [
        "line 2: imports jhubctl.cli",
        "line 3: imports jhubctl.hub",
        "line 4: relative import leaves jhubctl.spawner",
        "line 5: imports kubespawner outside kube.py",
    ]
    assert forbidden_imports("from kubespawner import KubeSpawner", "kube") == []


def test_package_has_the_expected_modules() -> None:
    assert [m.name for m in MODULES] == ["__init__.py", "auth.py", "fence.py", "kube.py", "local.py", "naming.py"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_import_nothing_else_of_jhubctl(path: Path) -> None:
    assert forbidden_imports(path.read_text(), path.stem) == []


def _copy_alone(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    shutil.copytree(PACKAGE, root / "jhubctl" / "spawner", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "jhubctl" / "__init__.py").write_text("")
    return root


def _run_isolated(root: Path, code: str) -> dict:
    """Run `code` with the venv's interpreter in isolated mode (-I), with only `root` added to sys.path."""
    script = f"import sys; sys.path.insert(0, {str(root)!r})\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_copied_package_imports_alone(tmp_path: Path) -> None:
    root = _copy_alone(tmp_path)
    seen = _run_isolated(
        root,
        """
        import json, sys
        import jhubctl.spawner.auth, jhubctl.spawner.kube, jhubctl.spawner.local
        from jhubctl.spawner.auth import ConversationAuthenticator
        from jhubctl.spawner.kube import KubeConversationSpawner
        from jhubctl.spawner.local import LocalConversationSpawner
        from jhubctl.spawner import spawn_target
        print(json.dumps({
            "modules": {m: getattr(sys.modules[m], "__file__", None) for m in sys.modules if m.split(".")[0] == "jhubctl"},
            "target": list(spawn_target("alice", "", {"conversationId": "C1"})),
            "kube": KubeConversationSpawner.__mro__[1].__module__,
            "local": LocalConversationSpawner.__mro__[1].__name__,
            "auth": ConversationAuthenticator.__mro__[1].__name__,
        }))
        """,
    )
    assert sorted(seen["modules"]) == [
        "jhubctl",
        "jhubctl.spawner",
        "jhubctl.spawner.auth",
        "jhubctl.spawner.fence",
        "jhubctl.spawner.kube",
        "jhubctl.spawner.local",
        "jhubctl.spawner.naming",
    ]
    for module, file in seen["modules"].items():
        assert file is not None and Path(file).is_relative_to(root), (module, file)
    assert seen["target"] == ["alice", "c1", "alice/conversations/c1"]
    assert seen["kube"] == "kubespawner.spawner"
    assert seen["local"] == "SimpleLocalProcessSpawner"
    assert seen["auth"] == "NullAuthenticator"


def test_local_spawner_works_without_kubespawner(tmp_path: Path) -> None:
    """The local target has no kubespawner: block it and import everything but kube.py."""
    root = _copy_alone(tmp_path)
    seen = _run_isolated(
        root,
        """
        import json, sys

        class NoKubespawner:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "kubespawner":
                    raise ImportError("kubespawner is not installed on the local target")
                return None

        sys.meta_path.insert(0, NoKubespawner())
        import jhubctl.spawner, jhubctl.spawner.auth, jhubctl.spawner.local
        try:
            import jhubctl.spawner.kube
        except ImportError as e:
            kube = str(e)
        else:
            kube = "imported"
        print(json.dumps({
            "kubespawner_loaded": any(m.split(".")[0] == "kubespawner" for m in sys.modules),
            "kube": kube,
        }))
        """,
    )
    assert seen == {
        "kubespawner_loaded": False,
        # the blocker works: kube.py, which does need kubespawner, fails to import
        "kube": "kubespawner is not installed on the local target",
    }
