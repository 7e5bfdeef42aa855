"""The crash-log classifier, one row per shape of log operators meet (and the ones it must not claim)."""

from __future__ import annotations

import pytest

from jhubctl.diagnose.logtail import classify, last_lines

CONFIG_TRACEBACK = """\
[I 2024-05-01 10:00:00.101 JupyterHub app:2859] Running JupyterHub version 4.0.2
[E 2024-05-01 10:00:01.123 JupyterHub application:1016] Exception while loading config file /usr/local/etc/jupyterhub/jupyterhub_config.py
    Traceback (most recent call last):
      File "/usr/local/lib/python3.11/site-packages/traitlets/config/application.py", line 1003, in _load_config_files
        config = loader.load_config()
      File "/usr/local/etc/jupyterhub/jupyterhub_config.py", line 512, in <module>
        exec(config_py)
      File "<string>", line 3, in <module>
    NameError: name 'cc' is not defined
"""

IMPORT_IN_CONFIG = """\
[E 2024-05-01 10:00:01.123 JupyterHub application:1016] Exception while loading config file /usr/local/etc/jupyterhub/jupyterhub_config.py
    Traceback (most recent call last):
      File "/usr/local/etc/jupyterhub/jupyterhub_config.py", line 20, in <module>
        import oauthenticator
    ModuleNotFoundError: No module named 'oauthenticator'
"""

CULLER_MISSING = """\
[I 2024-05-01 10:00:02.000 JupyterHub service:385] Starting service 'jupyterhub-idle-culler': ['python3', '-m', 'jupyterhub_idle_culler', '--timeout=3600']
/usr/bin/python3: No module named jupyterhub_idle_culler
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
ImportError: No module named jupyterhub_idle_culler
"""

CASES = [
    # (log, kind, detail)
    ("exec /usr/bin/tini: exec format error\n", "architecture", "exec format error"),
    ("exec /bin/sh: exec format error", "architecture", "exec format error"),
    ("standard_init_linux.go:228: exec user process caused: exec format error\n", "architecture", "exec format error"),
    ("Traceback (most recent call last):\n  File \"/srv/app.py\", line 1, in <module>\n"
     "ModuleNotFoundError: No module named 'jhubctl.spawner'\n", "package", "jhubctl.spawner"),
    ("ImportError: cannot import name 'KubeSpawner' from 'kubespawner' (/usr/lib/kubespawner/__init__.py)",
     "package", "kubespawner"),
    (CULLER_MISSING, "package", "jupyterhub_idle_culler"),
    (IMPORT_IN_CONFIG, "package", "oauthenticator"),  # a missing package, even inside the config file
    (CONFIG_TRACEBACK, "config", "NameError: name 'cc' is not defined"),
    ("[E 2024-05-01 10:00:01 JupyterHub app:3000] traitlets.traitlets.TraitError: The 'named_server_limit_per_user' "
     "trait of a JupyterHub instance expected an int, not the str 'x'.", "config",
     "traitlets.traitlets.TraitError: The 'named_server_limit_per_user' trait of a JupyterHub instance expected an "
     "int, not the str 'x'."),
    ("[E 2024-05-01 10:00:01 JupyterHub application:1016] Exception while loading config file /etc/jupyterhub_config.py",
     "config", "Exception while loading config file /etc/jupyterhub_config.py"),
]


@pytest.mark.parametrize(("log", "kind", "detail"), CASES, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(CASES)])
def test_a_crash_log_is_classified(log: str, kind: str, detail: str) -> None:
    cause = classify(log)
    assert cause is not None
    assert (cause.kind, cause.detail) == (kind, detail)
    assert cause.line and cause.line in log


@pytest.mark.parametrize("log", [
    "",
    "[I 2024-05-01 10:00:00 JupyterHub app:2859] Running JupyterHub version 4.0.2\nKilled\n",
    # a traceback that never passes through the config file is not blamed on the values
    "Traceback (most recent call last):\n  File \"/srv/app.py\", line 1\nValueError: bad thing\n",
    "the user's code printed the words Error loading and exec format but no crash",
])
def test_logs_without_a_known_cause_are_not_classified(log: str) -> None:
    assert classify(log) is None


def test_the_last_shape_wins_when_a_log_holds_two_of_one_kind() -> None:
    log = "ModuleNotFoundError: No module named 'first'\nModuleNotFoundError: No module named 'second'\n"
    cause = classify(log)
    assert cause is not None and cause.detail == "second"


def test_last_lines_skips_blank_lines() -> None:
    assert last_lines("a\n\nb\n  \nc\nd\n\n", 3) == ["b", "c", "d"]
