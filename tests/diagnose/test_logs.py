"""The local log's lines by component and time, durations, and following a growing file."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jhubctl.config import load_config
from jhubctl.errors import UsageError
from jhubctl.logs import duration, escape, keep, open_log, origin
from jhubctl.state import Journal, Record

LINES = [
    ("[I 2024-05-01 10:00:00.101 JupyterHub app:2859] Running JupyterHub version 4.0.2", "hub"),
    ("[I 2024-05-01 10:00:00,358 configurable_http_proxy] Proxying http://127.0.0.1:38233 to (no default)", "proxy"),
    ("10:00:00.358 [ConfigProxy] info: Proxying http://*:8000 to (no default)", "proxy"),
    ("[I 240501 10:52:36 __init__:362] Culling user fran (inactive for 1:09:58.216145)", "culler"),
    ("[I 2024-05-01 10:00:05.000 ServerApp] 200 GET /user/alice/c1/api/kernels (127.0.0.1) 2.0ms", "server"),
    ("    Traceback (most recent call last):", None),
]


@pytest.mark.parametrize(("line", "role"), LINES)
def test_each_line_is_recognised_by_its_format(line: str, role: str | None) -> None:
    assert origin(line) == role


def test_continuation_lines_go_with_their_line_and_since_filters_by_time() -> None:
    now = datetime.now()
    old = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000")
    new = (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"[E {old} JupyterHub app:1] old failure", "    Traceback: old", f"[E {new}.000 JupyterHub app:1] new failure",
             "    Traceback: new", f"[I {new},000 configurable_http_proxy] 200 GET /"]
    assert list(keep(iter(lines), lambda line: origin(line) == "hub", 600)) == lines[2:4]
    assert list(keep(iter(lines), lambda line: True, None)) == lines


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)])
def test_durations_as_kubectl_takes_them(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1d", "-5m", "0s"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(UsageError):
        duration(text)


def test_kubespawners_label_escaping() -> None:
    assert [escape(n) for n in ("alice", "a-b", "x_example_com")] == ["alice", "a-2db", "x-5fexample-5fcom"]


def test_follow_prints_what_the_local_hub_writes_next(tmp_path: Path) -> None:
    log = tmp_path / ".jhubctl" / "local" / "jupyterhub.log"
    log.parent.mkdir(parents=True)
    log.write_text("[I 2024-05-01 10:00:00.101 JupyterHub app:2859] Running JupyterHub version 4.0.2\n")
    (tmp_path / "jhubctl.yaml").write_text("target: local\n")
    Journal(tmp_path / ".jhubctl").record("local-hub", Record("succeeded", outputs={
        "url": "http://127.0.0.1:1", "pid": 1, "log": str(log), "config": "x", "data_root": str(tmp_path)}))
    loaded = load_config(tmp_path / "jhubctl.yaml", environ={})
    seen: list[str] = []
    with open_log(loaded, "culler", follow=True) as followed:
        def read() -> None:
            for line in followed.lines:
                seen.append(line)
                if "Culling" in line:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write("[I 2024-05-01 10:01:00.000 JupyterHub log:191] 200 GET /hub/api/users\n")
            fh.write("[I 240501 10:52:36 __init__:362] Culling user fran (inactive for 1:09:58)\n")
        reader.join(timeout=5)
    assert seen == ["[I 240501 10:52:36 __init__:362] Culling user fran (inactive for 1:09:58)"]
