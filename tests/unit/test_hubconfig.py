"""The local hub's generated jupyterhub_config.py: valid Python, no secret, least-privilege roles, the culler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config as TraitletsConfig

from jhubctl.config import Config, parse_config
from jhubctl.local.hubconfig import Ports, render

SERVICE_SCOPES = ["admin:users", "servers", "access:servers", "tokens"]
SECRET = "0123456789abcdef" * 4


def rendered(tmp_path: Path, config: Config | None = None, workdir: Path | None = None) -> str:
    return render(
        config or Config(),
        ports=Ports(public=18000, hub=18081, proxy_api=18001),
        workdir=workdir or tmp_path / "local",
        data_root=tmp_path / "data",
        proxy_command=["/usr/bin/configurable-http-proxy"],
    )


def load(source: str, monkeypatch: pytest.MonkeyPatch, token: str = SECRET) -> Any:
    """Run the file as JupyterHub does: `get_config()` in its namespace, the token in the environment."""
    monkeypatch.setenv("JHUBCTL_SERVICE_TOKEN", token)
    c = TraitletsConfig()
    exec(compile(source, "jupyterhub_config.py", "exec"), {"get_config": lambda: c})
    return c


def service(c: Any, name: str) -> dict[str, Any] | None:
    return next((s for s in c.JupyterHub.services if s["name"] == name), None)


def role(c: Any, name: str) -> dict[str, Any] | None:
    return next((r for r in c.JupyterHub.load_roles if r["name"] == name), None)


def test_renders_valid_python(tmp_path: Path) -> None:
    compile(rendered(tmp_path), "jupyterhub_config.py", "exec")


def test_holds_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JHUBCTL_SERVICE_TOKEN", SECRET)
    monkeypatch.setenv("JHUBCTL_API_TOKEN", SECRET)
    source = rendered(tmp_path)
    assert SECRET not in source
    assert "api_token" in source and "JHUBCTL_SERVICE_TOKEN" in source  # it is read from the environment


def test_service_token_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path), monkeypatch, token="token-from-env")
    assert c.JupyterHub.services[0]["api_token"] == "token-from-env"
    assert c.JupyterHub.services[0]["name"] == "assistant"


def test_hub_basics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"servers": {"named_server_limit": 7}})), monkeypatch)
    assert c.JupyterHub.authenticator_class == "jhubctl.spawner.auth.ConversationAuthenticator"
    assert c.JupyterHub.spawner_class == "jhubctl.spawner.local.LocalConversationSpawner"
    assert c.JupyterHub.allow_named_servers is True
    assert c.JupyterHub.named_server_limit_per_user == 7
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:18081"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18001"
    assert c.LocalConversationSpawner.data_root == str(tmp_path / "data")


def test_spawner_class_is_importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module, _, name = load(rendered(tmp_path), monkeypatch).JupyterHub.spawner_class.rpartition(".")
    assert hasattr(importlib.import_module(module), name)


def test_api_service_has_exactly_the_scopes_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path), monkeypatch)
    api_role = role(c, "assistant")
    assert api_role is not None
    assert api_role["scopes"] == SERVICE_SCOPES
    assert api_role["services"] == ["assistant"]
    assert "admin:servers" not in api_role["scopes"]


def test_api_service_name_follows_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"hub": {"api_service_name": "copilot"}})), monkeypatch)
    assert c.JupyterHub.services[0]["name"] == "copilot"
    assert role(c, "copilot")["services"] == ["copilot"]


def test_culler_follows_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"hub": {"cull": {"timeout": 1234, "every": 56, "concurrency": 3}}})
    c = load(rendered(tmp_path, config), monkeypatch)
    culler = service(c, "idle-culler")
    assert culler is not None
    command = culler["command"]
    assert command[1:3] == ["-m", "jupyterhub_idle_culler"]
    assert "--timeout=1234" in command
    assert "--cull-every=56" in command
    assert "--concurrency=3" in command
    assert "--remove-named-servers=true" in command
    assert "--cull-users=true" not in command
    assert not any(arg.startswith("--max-age") for arg in command)
    assert "api_token" not in culler  # the hub issues the culler's token itself


def test_culler_keeps_named_servers_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"hub": {"cull": {"remove_named_servers": False}}})), monkeypatch)
    assert not any("remove-named-servers" in arg for arg in service(c, "idle-culler")["command"])


def test_culler_max_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"hub": {"cull": {"max_age": 86400}}})), monkeypatch)
    assert "--max-age=86400" in service(c, "idle-culler")["command"]


def test_no_culler_when_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"hub": {"cull": {"enabled": False}}})), monkeypatch)
    assert [s["name"] for s in c.JupyterHub.services] == ["assistant"]
    assert [r["name"] for r in c.JupyterHub.load_roles] == ["assistant"]


def test_culler_gets_admin_users_only_to_cull_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = load(rendered(tmp_path), monkeypatch)
    scopes = role(plain, "idle-culler")["scopes"]
    assert "admin:users" not in scopes
    assert {"list:users", "read:users:activity", "read:servers", "delete:servers"} <= set(scopes)

    culling_users = load(rendered(tmp_path, parse_config({"hub": {"cull": {"users": True}}})), monkeypatch)
    assert "admin:users" in role(culling_users, "idle-culler")["scopes"]
    assert "--cull-users=true" in service(culling_users, "idle-culler")["command"]
    assert role(culling_users, "assistant")["scopes"] == SERVICE_SCOPES  # the API service is unchanged


def test_paths_cannot_inject_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = tmp_path / 'we"ird\'\n dir\\'
    source = rendered(tmp_path, workdir=odd)
    c = load(source, monkeypatch)
    assert c.JupyterHub.db_url == "sqlite:///" + str(odd / "jupyterhub.sqlite")
    assert c.JupyterHub.pid_file == str(odd / "jupyterhub.pid")


def test_spawner_timeouts_follow_servers_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = load(rendered(tmp_path, parse_config({"servers": {"start_timeout": 90}})), monkeypatch)
    assert c.Spawner.start_timeout == 90
    assert c.Spawner.http_timeout == 90


def test_every_process_the_hub_starts_carries_the_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The culler gets it in its service environment (services do not inherit the hub's), servers keep it
    from the hub's environment (kernels inherit theirs): `down` finds them all after a hub crash."""
    from traitlets.config import LazyConfigValue

    from jupyterhub.spawner import Spawner

    c = load(rendered(tmp_path), monkeypatch)
    assert service(c, "idle-culler")["environment"] == {"JHUBCTL_LOCAL_HUB": str(tmp_path / "local")}
    keep = c.Spawner.env_keep
    assert isinstance(keep, LazyConfigValue)
    assert keep.get_value(Spawner().env_keep)[-1] == "JHUBCTL_LOCAL_HUB"
    assert "PATH" in keep.get_value(Spawner().env_keep)  # the defaults stay


def test_user_servers_get_the_output_limits_and_both_plugins_in_either_python(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    servers = {"iopub_data_rate_limit": 5e6, "iopub_msg_rate_limit": 0}
    for mode in ("shared", "locked"):  # the locked venv holds a copy of the plugins
        config = parse_config({"servers": servers, "local": {"interpreter": mode}})
        args = load(rendered(tmp_path, config), monkeypatch).Spawner.args
        assert args[:2] == ["--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=5000000.0",
                            "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=0.0"]
        options = dict(a.removeprefix("--").split("=", 1) for a in args[2:])
        assert options == {
            "ServerApp.contents_manager_class": "jhubctl.singleuser.contents.ConfinedContentsManager",
            "ServerApp.kernel_websocket_connection_class": "jhubctl.singleuser.kernelws.NoDelayConnection",
        }, mode
        for dotted in options.values():
            module, _, name = dotted.rpartition(".")
            assert hasattr(importlib.import_module(module), name)


def test_the_default_proxy_is_the_one_that_answers_subprotocols() -> None:
    import sys

    from jhubctl.local.process import proxy_command

    assert proxy_command(None) == [sys.executable, "-m", "jhubctl.local.proxy"]
    assert proxy_command("/opt/node/bin/configurable-http-proxy") == ["/opt/node/bin/configurable-http-proxy"]
