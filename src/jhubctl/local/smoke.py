"""The check `up` ends with: a real server for a real conversation runs a line of code and keeps a notebook."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Loaded
from ..errors import JhubctlError
from ..hubapi.client import HubClient, ProgressCallback
from ..interpreter import Interpreter
from ..spawner.naming import conversation_subpath
from ..state import Secrets

SMOKE_USER = "demo"
SMOKE_CONVERSATION = "demo-1"
SMOKE_CODE = "import platform; print('hello from', platform.python_implementation())"


@dataclass(frozen=True)
class SmokeResult:
    stdout: str
    notebook_file: Path
    seconds: float


def smoke_test(loaded: Loaded, url: str, data_root: Path, on_progress: ProgressCallback | None = None) -> SmokeResult:
    token = Secrets(loaded.state_dir, loaded.environ).api_token()
    assert token is not None
    servers = loaded.config.servers
    with HubClient(url, token) as hub, Interpreter(
        hub, SMOKE_USER, SMOKE_CONVERSATION, start_timeout=servers.start_timeout,
        idle_timeout=servers.progress_idle_timeout,
    ) as interpreter:
        result = interpreter.execute(SMOKE_CODE, timeout=servers.exec_timeout, on_progress=on_progress)
    if result.status != "ok":
        raise JhubctlError(f"smoke test: the code did not run ({result.status}: {result.error})")
    folder = data_root / conversation_subpath(SMOKE_USER, SMOKE_CONVERSATION)
    return SmokeResult(result.stdout.strip(), folder / result.notebook, result.seconds)
