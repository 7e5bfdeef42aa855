"""The config file as users write it: defaults, errors that point at the key and say the fix, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from jhubctl.config import Config, load_config, parse_config
from jhubctl.errors import ConfigError, ExitCode

REPO_ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "jhubctl.yaml")
    assert info.value.exit_code == ExitCode.USAGE
    assert "\n" not in info.value.message, "a config error must be one line"
    return info.value.message


# --- defaults -------------------------------------------------------------------------------------


def test_no_file_means_local_target_with_the_seed_values(tmp_path: Path) -> None:
    loaded = load_config(environ={})
    c = loaded.config
    assert loaded.path is None
    assert c.target == "local"
    assert (c.azure.location, c.azure.resource_group) == ("eastus", "jhub-rg")
    assert (c.network.vnet_cidr, c.network.subnet_cidr) == ("10.0.0.0/8", "10.240.0.0/16")
    # Not the seed's 10.0.0.0/16: that lies inside its own VNet 10.0.0.0/8 (Azure recommends against it).
    assert (c.aks.service_cidr, c.aks.dns_service_ip) == ("172.16.0.0/16", "172.16.0.10")
    assert (c.aks.node_count, c.aks.min_count, c.aks.max_count) == (3, 3, 6)
    assert c.aks.node_vm_size == "Standard_D2s_v3"
    assert c.hub.chart_version == "3.1.0"
    assert (c.storage.container, c.storage.pvc_size) == ("users", "3Gi")
    assert c.azure.arm_endpoint == "https://management.azure.com"


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "jhubctl.yaml", "# nothing set yet\n")
    loaded = load_config(environ={})
    assert loaded.path == tmp_path / "jhubctl.yaml"
    assert loaded.config == Config()


def test_jhubctl_yaml_in_cwd_is_read(tmp_path: Path) -> None:
    write(tmp_path / "jhubctl.yaml", "target: kubernetes\nname: prod-eu\n")
    c = load_config(environ={}).config
    assert (c.target, c.name) == ("kubernetes", "prod-eu")


# --- file errors ----------------------------------------------------------------------------------


def test_missing_explicit_file_exits_2_with_one_line_naming_it(cli, tmp_path: Path) -> None:
    code, out, err = cli("--config", "nowhere/missing.yaml", "config", "show")
    assert code == ExitCode.USAGE
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "missing.yaml" in errors[0]
    assert "Traceback" not in err


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "conf" / "my.yaml", "target: local\nname: jhub: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = info.value.message
    assert str(path) in message
    assert "line 2" in message and "column 11" in message


def test_yaml_syntax_error_through_the_cli_exits_2(cli, tmp_path: Path) -> None:
    write(tmp_path / "jhubctl.yaml", "hub:\n\turl: x\n")
    code, _, err = cli("config", "validate")
    assert code == ExitCode.USAGE
    assert "jhubctl.yaml" in err and "line 2" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("target: local\nname: a\ntarget: azure\n", "target", (1, 3)),
        ("hub:\n  cull:\n    timeout: 600\n    every: 60\n    timeout: 60\n", "timeout", (3, 5)),
    ],
)
def test_a_duplicate_key_is_refused_naming_the_key_and_both_lines(cli, tmp_path: Path, text: str, key: str,
                                                                   lines: tuple[int, int]) -> None:
    """YAML itself keeps the last one silently: the operator meant one of them and must say which."""
    write(tmp_path / "jhubctl.yaml", text)
    code, out, err = cli("config", "validate")
    assert code == ExitCode.USAGE and out == ""
    assert f"key '{key}' appears twice, on line {lines[0]} and line {lines[1]}" in err
    assert "jhubctl.yaml" in err and "Traceback" not in err


def test_the_same_key_in_two_sections_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "jhubctl.yaml", "hub:\n  cull:\n    timeout: 600\nservers:\n  start_timeout: 30\n")
    assert load_config(path, environ={}).config.hub.cull.timeout == 600


def test_a_file_that_is_not_utf8_is_exit_2_with_the_byte_offset(cli, tmp_path: Path) -> None:
    (tmp_path / "jhubctl.yaml").write_bytes(b"target: local\nname: j\xe9hub\n")
    code, out, err = cli("config", "validate")
    assert code == ExitCode.USAGE and out == ""
    assert "jhubctl.yaml" in err and "not UTF-8" in err and "byte offset 21" in err
    assert "unexpected" not in err


def test_a_config_that_is_a_directory_says_so(cli, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    code, _, err = cli("-c", str(tmp_path / "etc"), "status")
    assert code == ExitCode.USAGE and "is a directory" in err and "does not exist" not in err


@pytest.mark.parametrize("option", ["--state-dir", "--config"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_path_option_is_refused_not_taken_as_the_current_folder(cli, tmp_path: Path, option: str,
                                                                         value: str) -> None:
    code, _, err = cli(option, value, "status")
    assert code == ExitCode.USAGE and option in err and "empty" in err
    assert not (tmp_path / "state.json").exists() and not (tmp_path / ".jhubctl").exists()


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize("key", ["exec_timeout", "start_timeout", "iopub_data_rate_limit"])
def test_infinite_or_nan_numbers_are_refused(value: str, key: str, tmp_path: Path) -> None:
    path = write(tmp_path / "jhubctl.yaml", f"servers:\n  {key}: {value}\n")
    with pytest.raises(ConfigError, match=f"servers.{key}"):
        load_config(path, environ={})


def test_the_output_limits_reach_every_user_servers_arguments() -> None:
    servers = parse_config({"servers": {"iopub_data_rate_limit": 0, "iopub_msg_rate_limit": 50}}).servers
    assert servers.server_args() == ["--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=0.0",
                                     "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=50.0"]
    assert parse_config({}).servers.cell_output_limit == 5_000_000


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "jhubctl.yaml", "- target\n- local\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("data", "path", "suggestion"),
    [
        ({"stroage": {}}, "stroage", "storage"),
        ({"hub": {"cull": {"timout": 600}}}, "hub.cull.timout", "timeout"),
        ({"aks": {"node_cont": 3}}, "aks.node_cont", "node_count"),
        ({"network": {"alowed_source_ips": ["1.2.3.4/32"]}}, "network.alowed_source_ips", "allowed_source_ips"),
    ],
)
def test_unknown_key_names_dotted_path_and_close_match(data: dict, path: str, suggestion: str) -> None:
    message = config_error(data)
    assert f"'{path}'" in message
    assert f"did you mean '{suggestion}'" in message


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    message = config_error({"hub": {"zzzzzz": 1}})
    assert "'hub.zzzzzz'" in message
    assert "api_service_name" in message and "cull" in message


# --- bad values: the key path and the fix ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "must_mention"),
    [
        ({"storage": {"account_name": "My_Storage"}}, ["storage.account_name", "'My_Storage'", "lowercase"]),
        ({"storage": {"account_name": "ab"}}, ["storage.account_name", "3-24"]),
        ({"registry": {"name": "acr-1"}}, ["registry.name", "'acr-1'", "letters and digits"]),
        ({"registry": {"singleuser_image": "jupyter/base-notebook:latest"}}, ["registry.singleuser_image", "pinned"]),
        ({"registry": {"singleuser_image": "jupyter/base-notebook"}}, ["registry.singleuser_image", "pinned"]),
        ({"azure": {"arm_endpoint": "http://management.azure.com"}}, ["azure.arm_endpoint", "https://"]),
        ({"hub": {"cull": {"timeout": 5}}}, ["hub.cull.timeout", "10", "got 5"]),
        ({"name": "My Env"}, ["'name'", "DNS label"]),
    ],
)
def test_bad_value_names_key_and_fix(data: dict, must_mention: list[str]) -> None:
    message = config_error(data)
    for text in must_mention:
        assert text in message, f"{text!r} missing from: {message}"


def test_dns_service_ip_outside_service_cidr() -> None:
    message = config_error({"aks": {"dns_service_ip": "10.1.0.10"}})
    for text in ("aks", "dns_service_ip", "10.1.0.10", "service_cidr", "172.16.0.0/16"):
        assert text in message


def test_subnet_outside_vnet() -> None:
    message = config_error({"network": {"subnet_cidr": "192.168.0.0/24"}})
    for text in ("network", "subnet_cidr", "192.168.0.0/24", "vnet_cidr", "10.0.0.0/8"):
        assert text in message


def test_service_cidr_overlapping_the_vnet_not_only_the_node_subnet() -> None:
    for service, dns in (("10.240.0.0/20", "10.240.0.10"), ("10.0.0.0/16", "10.0.0.10")):  # subnet; seed's value
        message = config_error({"aks": {"service_cidr": service, "dns_service_ip": dns}})
        assert "aks.service_cidr" in message and "network.vnet_cidr" in message and "overlaps" in message


def test_non_cidr_is_refused_with_an_example() -> None:
    message = config_error({"network": {"vnet_cidr": "10.0.0.0/33"}})
    assert "network.vnet_cidr" in message and "CIDR" in message


@pytest.mark.parametrize("source", ["0.0.0.0/0", "*"])
def test_any_source_needs_explicit_opt_in(source: str) -> None:
    message = config_error({"network": {"allowed_source_ips": ["203.0.113.0/24", source]}})
    assert "allowed_source_ips" in message
    assert "network.allow_any_source" in message  # the fix, spelled as a key

    config = parse_config({"network": {"allowed_source_ips": [source], "allow_any_source": True}})
    assert config.network.allowed_source_ips == [source]


def test_allowed_source_ips_must_be_ips() -> None:
    message = config_error({"network": {"allowed_source_ips": ["my-office"]}})
    assert "'my-office'" in message and "allowed_source_ips" in message


def test_more_problems_are_counted_in_the_hint() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"storage": {"account_name": "X"}, "registry": {"name": "-"}})
    assert info.value.hint and "1 more problem" in info.value.hint


# --- environment ----------------------------------------------------------------------------------


def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "jhubctl.yaml",
        "azure:\n  arm_endpoint: https://management.azure.com\nhub:\n  url: http://file.example:8000\n",
    )
    environ = {
        "JHUBCTL_ARM_ENDPOINT": "https://management.usgovcloudapi.net/",
        "JHUBCTL_HUB_URL": "http://env.example:9000",
    }
    c = load_config(path, environ=environ).config
    assert c.azure.arm_endpoint == "https://management.usgovcloudapi.net"
    assert c.hub.url == "http://env.example:9000"


def test_env_overrides_apply_without_a_file() -> None:
    c = load_config(environ={"JHUBCTL_HUB_URL": "http://env.example:9000"}).config
    assert c.hub.url == "http://env.example:9000"


def test_env_overrides_apply_to_a_file_with_only_comments(tmp_path: Path) -> None:
    """A freshly copied, fully commented config must not make the environment be ignored."""
    write(tmp_path / "jhubctl.yaml", "# target: local\n# hub:\n#   url: http://x\n")
    c = load_config(environ={"JHUBCTL_HUB_URL": "http://env.example:9000"}).config
    assert c.hub.url == "http://env.example:9000"


def test_env_override_values_are_validated_too() -> None:
    with pytest.raises(ConfigError, match="azure.arm_endpoint"):
        load_config(environ={"JHUBCTL_ARM_ENDPOINT": "http://insecure.example"})


def test_env_overrides_through_the_process_environment(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv("JHUBCTL_HUB_URL", "http://env.example:9000")
    code, out, _ = cli("config", "show", "--json")
    assert code == 0
    view = json.loads(out)
    assert view["config"]["hub"]["url"] == "http://env.example:9000"
    assert "JHUBCTL_HUB_URL" in view["environment"]


def test_jhubctl_config_env_selects_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere" / "prod.yaml", "target: kubernetes\n")
    write(tmp_path / "jhubctl.yaml", "target: azure\n")  # would be found in cwd otherwise
    loaded = load_config(environ={"JHUBCTL_CONFIG": str(path)})
    assert loaded.path == path
    assert loaded.config.target == "kubernetes"


def test_jhubctl_config_env_to_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gone.yaml"):
        load_config(environ={"JHUBCTL_CONFIG": str(tmp_path / "gone.yaml")})


def test_explicit_path_wins_over_jhubctl_config_env(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "target: kubernetes\n")
    b = write(tmp_path / "b.yaml", "target: azure\n")
    assert load_config(a, environ={"JHUBCTL_CONFIG": str(b)}).config.target == "kubernetes"


# --- state dir ------------------------------------------------------------------------------------


def test_state_dir_defaults_to_cwd_without_a_file(tmp_path: Path) -> None:
    assert load_config(environ={}).state_dir == tmp_path / ".jhubctl"


def test_state_dir_is_beside_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path / "envs" / "prod" / "jhubctl.yaml", "")
    assert load_config(path, environ={}).state_dir == tmp_path / "envs" / "prod" / ".jhubctl"


def test_state_dir_env_wins_over_the_config_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "envs" / "jhubctl.yaml", "")
    loaded = load_config(path, environ={"JHUBCTL_STATE_DIR": str(tmp_path / "from-env")})
    assert loaded.state_dir == tmp_path / "from-env"


def test_state_dir_argument_wins_over_env(tmp_path: Path) -> None:
    loaded = load_config(state_dir=Path("rel/state"), environ={"JHUBCTL_STATE_DIR": str(tmp_path / "from-env")})
    assert loaded.state_dir == tmp_path / "rel" / "state"  # made absolute against the cwd
    assert loaded.state_dir.is_absolute()


def test_state_dir_through_the_cli(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    write(tmp_path / "envs" / "jhubctl.yaml", "")

    def state_dir(*argv: str) -> str:
        code, out, err = cli(*argv, "config", "show", "--json")
        assert code == 0, err
        return json.loads(out)["state_dir"]

    assert state_dir() == str(tmp_path / ".jhubctl")
    assert state_dir("--config", "envs/jhubctl.yaml") == str(tmp_path / "envs" / ".jhubctl")
    monkeypatch.setenv("JHUBCTL_STATE_DIR", str(tmp_path / "env-state"))
    assert state_dir("--config", "envs/jhubctl.yaml") == str(tmp_path / "env-state")
    assert state_dir("--state-dir", str(tmp_path / "flag-state")) == str(tmp_path / "flag-state")


# --- digest ---------------------------------------------------------------------------------------


def test_digest_follows_only_the_sections_asked_for() -> None:
    base = parse_config({})
    storage_changed = parse_config({"storage": {"container": "conversations"}})
    hub_changed = parse_config({"hub": {"url": "http://hub.example"}})

    assert base.digest("storage") == parse_config({}).digest("storage")  # stable
    assert storage_changed.digest("storage") != base.digest("storage")
    assert hub_changed.digest("storage") == base.digest("storage")
    assert hub_changed.digest("hub") != base.digest("hub")
    assert hub_changed.digest() != base.digest()
    assert storage_changed.digest("storage", "network") != base.digest("storage", "network")


def test_digest_sees_nested_changes() -> None:
    assert parse_config({"hub": {"cull": {"every": 300}}}).digest("hub") != parse_config({}).digest("hub")


# --- config.example.yaml --------------------------------------------------------------------------


def _field_names(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted path, key) for every field, recursing into sub-sections."""
    found = []
    for name, info in model.model_fields.items():
        found.append((f"{prefix}{name}", name))
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found.extend(_field_names(info.annotation, f"{prefix}{name}."))
    return found


def test_field_walk_reaches_nested_sections() -> None:
    paths = [path for path, _ in _field_names(Config)]
    assert "hub.cull.remove_named_servers" in paths and "aks.dns_service_ip" in paths


def test_config_example_parses_and_documents_every_field() -> None:
    example = REPO_ROOT / "config.example.yaml"
    assert example.is_file(), f"{example} is missing: users are told to copy it (see the config error hints)"
    text = example.read_text(encoding="utf-8")
    parse_config(yaml.safe_load(text), str(example))
    missing = [path for path, key in _field_names(Config) if key not in text]
    assert not missing, f"config.example.yaml does not mention: {', '.join(missing)}"
